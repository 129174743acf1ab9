# syntax=docker/dockerfile:1
# fibery-kb as a container: `gen` is the entry point, `build` the default command.
#
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/app" \
#     -e FIBERY_TOKEN -e FIBERY_URL -e FIBERY_SPACE ghcr.io/OWNER/fibery-kb
#
# writes the site to ./site (see docs/container.md). Released by .github/workflows/release.yml.

# ---- build: the source tree becomes one wheel -------------------------------------------
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY generator ./generator
COPY templates ./templates
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# ---- runtime: the wheel and its dependencies, no build tools, no source -----------------
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir /wheels/*.whl \
    && groupadd --gid 10001 kb \
    && useradd --no-log-init --create-home --uid 10001 --gid 10001 kb \
    && install -d -o 10001 -g 10001 /app
# /app is the project folder: kb.toml, content/, templates/ and the site written to site/.
WORKDIR /app
# Numeric, so that a runtime can check it is not root (e.g. Kubernetes runAsNonRoot).
USER 10001:10001
ENTRYPOINT ["gen"]
CMD ["build"]
