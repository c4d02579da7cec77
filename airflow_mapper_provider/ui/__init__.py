"""The mapper view in the Airflow UI: an Airflow plugin (plugin.py) with a FastAPI sub-app (app.py) serving a
static page (static/) and JSON read from Airflow's metadata (reader.py, view.py)."""
