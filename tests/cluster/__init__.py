"""A real Airflow deployment for tests: components on loopback, started and stopped by PID.

``AirflowCluster`` (``tests.cluster.harness``) starts, each as its own process group,
an api-server, a scheduler, a dag-processor, optionally a triggerer, and N Celery workers
(CeleryExecutor) or none (LocalExecutor: the scheduler runs tasks). Metadata goes to a
fresh PostgreSQL database ``arp_cluster_<key>`` (``ARP_PG_HOST``/``ARP_PG_PORT``, default
127.0.0.1:5432, user ``postgres``); Celery uses Redis (``ARP_REDIS_URL``, default
``redis://127.0.0.1:6379/0``) under the key prefix ``arp_<key>:`` and a queue of its own,
so clusters of parallel test sessions never take each other's tasks. ``stop()`` stops
every component by PID, drops the database and deletes the cluster's Redis keys.

Fixtures (``from tests.cluster.fixtures import start_cluster`` in a test module or its
conftest; ``start_cluster_module`` is the module-scoped twin)::

    def test_x(start_cluster):
        cluster = start_cluster(
            dags_folder,                  # a folder with only the DAG files the test needs
            executor="CeleryExecutor",    # or "LocalExecutor" (no workers)
            workers=2,                    # Celery workers worker1..workerN
            worker_concurrency=1,         # task slots per worker
            triggerer=True,               # start a triggerer (deferrable operators/sensors)
            users={"alice": "admin"},     # simple auth manager users; default: all admins, no login
            env={"AIRFLOW_CONN_MLFLOW_DEFAULT": "..."},  # extra environment for every component
        )
        cluster.wait_for_dag("my_dag")            # parsed by the dag-processor, unpaused
        run_id = cluster.trigger("my_dag", {"key": "value"})
        assert cluster.wait_for_run("my_dag", run_id) == "success"
        tis = cluster.task_instances("my_dag", run_id)   # REST API fields: state, hostname, map_index, try_number
        assert {ti["hostname"] for ti in tis} <= {cluster.node(w) for w in cluster.worker_names}

The fixtures skip the test when PostgreSQL, Redis or the Celery provider is missing,
except under ``CI=true`` where they fail.

Other calls: ``cluster.api(method, "/api/v2/...", body, user="alice")`` (REST as a user of
``users``, with a token from ``/auth/token``; e.g. answering a HITL approval with
``PATCH .../taskInstances/{task}/{map_index}/hitlDetails``), ``wait_for_task(dag, run,
task, states, map_index=)``, ``clear(dag, run, task_ids)`` to re-run tasks, ``task_log(dag,
run, task, try_number=, map_index=)``, ``add_worker(name)``, ``components[name].stop()`` /
``.start()`` (kill and restart one component, e.g. a worker or the scheduler),
``cluster.env`` (the environment for ``airflow`` CLI calls against the cluster),
``import_errors()``.

Each worker records its own name as ``TaskInstance.hostname`` (``worker1@arp-<key>``: the
``hostname_callable`` in ``tests.cluster.node``, the same name as the worker's Celery
hostname, which a task can read as ``celery.current_task.request.hostname``).
"""
