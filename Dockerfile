# Build a wheel with its dependencies, then install it into a slim image that runs as a
# non-root user. `hookline serve` by default; `hookline worker` for delivery-only processes.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY receivers/python/src ./receivers/python/src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --create-home --uid 10001 hookline \
    && install -d -o hookline -g hookline /home/hookline/data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER hookline
WORKDIR /home/hookline
ENV HOOKLINE_DATABASE_URL=sqlite:////home/hookline/data/hookline.db
EXPOSE 8000
# Liveness (/healthz), which fits `serve` on port 8000: what Swarm and autoheal restart on,
# so never the database's state (a restart would not mend it; Hookline recovers by
# itself). Readiness is /readyz: docker-compose.yml's services wait on it; a worker's
# answers on `worker --metrics-port PORT`.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["hookline", "healthcheck"]
ENTRYPOINT ["hookline"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
