# Consentry: the consent-enforcing reverse proxy.
#   docker build -t consentry .
#   docker run -p 8080:8080 -v "$PWD/site.toml:/etc/consentry/consentry.toml:ro" \
#              -v consentry-receipts:/var/lib/consentry consentry
# (the README's line: one policy file mounted where CMD reads it, receipts in a volume)
# Two stages: wheels are built with the compilers of the full image, the runtime image
# gets only the installed packages (no pip cache, no build tools).

FROM python:3.12-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY proxy ./proxy
# uvloop is the "speed" extra: the proxy uses it automatically when it is installed.
RUN python -m venv /opt/consentry \
 && /opt/consentry/bin/pip install ".[speed]"

FROM python:3.12-slim
LABEL org.opencontainers.image.title="consentry" \
      org.opencontainers.image.description="Reverse proxy that enforces privacy consent on HTML as it streams through"
ENV PATH=/opt/consentry/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_STATE_HOME=/var/lib/consentry
COPY --from=build /opt/consentry /opt/consentry
# A fixed uid/gid so mounted volumes (receipts) can be owned by it on the host.
RUN groupadd --system --gid 10001 consentry \
 && useradd --system --uid 10001 --gid consentry --home-dir /var/lib/consentry --shell /usr/sbin/nologin consentry \
 && mkdir -p /etc/consentry /var/lib/consentry \
 && chown consentry:consentry /var/lib/consentry
USER 10001:10001
WORKDIR /var/lib/consentry
# Receipts (proof of consent) must outlive the container.
VOLUME ["/var/lib/consentry"]
EXPOSE 8080
# The admin port listens on loopback inside the container ([proxy] admin_listen, keep it
# on 9090 and not "off" in the mounted policy: the health check below needs it), which
# is where the health check runs; it is not published.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9090/healthz', timeout=2).status == 200 else 1)"]
# SIGTERM drains in-flight requests ([proxy] drain_timeout) before the container stops.
STOPSIGNAL SIGTERM
ENTRYPOINT ["consentry"]
CMD ["run", "--config", "/etc/consentry/consentry.toml"]
