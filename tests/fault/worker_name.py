"""``[core] hostname_callable`` for tests that run several Airflow workers on one machine.

Every Airflow process of a test stack imports it; a Celery worker started with ``MAPPER_TEST_HOSTNAME`` set
reports that name (its task instances show it as their hostname), every other process the machine's name.
"""

from __future__ import annotations

import os
import socket

ENV = "MAPPER_TEST_HOSTNAME"


def hostname() -> str:
    return os.environ.get(ENV) or socket.getfqdn()
