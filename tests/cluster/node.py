"""``[core] hostname_callable`` for cluster components: each one names itself.

Celery workers started on one machine share ``socket.gethostname()``, so the harness gives
every component an ``ARP_CLUSTER_NODE`` (``worker1@arp-<key>``, the same name as its
Celery hostname) and Airflow records it as ``TaskInstance.hostname``.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("ARP_CLUSTER_NODE") or socket.gethostname()
