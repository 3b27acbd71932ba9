# The provider installed into Apache Airflow's image: used by every Airflow service of
# docker-compose.yml and by its MLflow tracking server (mlflow[auth] and psycopg2 are in it).
#   docker build -t airflow-registry-provider:local .
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

USER root
# Named volumes take the ownership of the folder they are mounted on, so create the
# folders the stack writes (MLflow artifacts, shared task data) owned by the airflow user.
RUN mkdir -p /mlflow/artifacts /opt/airflow/churn_data \
    && chown -R airflow:0 /mlflow /opt/airflow/churn_data
USER airflow

COPY --chown=airflow:0 pyproject.toml README.md /opt/provider/
COPY --chown=airflow:0 airflow_registry_provider /opt/provider/airflow_registry_provider
# Airflow stays at the image's version (pip would otherwise be free to move it); the
# provider brings mlflow, mlflow[auth] serves the basic-auth app, celery/redis/postgres
# providers ship with the image.
RUN pip install --no-cache-dir \
        "apache-airflow==${AIRFLOW_VERSION}" \
        "/opt/provider[mlflow]" \
        "mlflow[auth]>=3,<4"
