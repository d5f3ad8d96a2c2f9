# One image for every prefstream service; compose.yaml picks the command.
FROM python:3.11-slim
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
# Bytecode compiled here: the services run as a user who cannot write /app, so Python
# could never cache it and would compile every module again at each start.
RUN uv sync --frozen --no-dev --compile-bytecode && .venv/bin/python -m compileall -q libs services \
    && useradd --create-home prefstream && mkdir -p /data && chown prefstream /data
ENV PATH="/app/.venv/bin:$PATH" PREFSTREAM_CONFIG=/etc/prefstream/config.yml
USER prefstream
WORKDIR /data
ENTRYPOINT ["prefstream"]
