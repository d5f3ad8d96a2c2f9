# One image for every prefstream service; compose.yaml picks the command.
FROM python:3.11-slim
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
RUN uv sync --frozen --no-dev && useradd --create-home prefstream && mkdir -p /data && chown prefstream /data
ENV PATH="/app/.venv/bin:$PATH" PREFSTREAM_CONFIG=/etc/prefstream/config.yml
USER prefstream
WORKDIR /data
ENTRYPOINT ["prefstream"]
