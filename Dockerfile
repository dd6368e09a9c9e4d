# Gongjian 共建助手: `gongjian run` (every configured channel, the HTTP server and the scheduler).
# Build: docker build -t gongjian .   Run with PostgreSQL: docker compose up -d (see compose.yaml)
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY storage storage
COPY scheduler scheduler
COPY locales locales
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GONGJIAN_HTTP_HOST=0.0.0.0 \
    GONGJIAN_HTTP_PORT=8080
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels gongjian \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --home-dir /app --create-home gongjian
USER gongjian
WORKDIR /app
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('GONGJIAN_HTTP_PORT', '8080') + '/healthz', timeout=4)"]
ENTRYPOINT ["gongjian"]
CMD ["run"]
