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
# Fits `serve` on port 8000; a worker's is `hookline healthcheck --url
# http://127.0.0.1:PORT/healthz` with `worker --metrics-port PORT` (docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["hookline", "healthcheck"]
ENTRYPOINT ["hookline"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
