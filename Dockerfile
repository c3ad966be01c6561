# syntax=docker/dockerfile:1
# The GPU image for real runs: `docker build -t ballspot .`, then see docs/gpu.md.
#
# Base: plain Python 3.11 rather than an nvidia/cuda image. torch==2.14.1 from PyPI (pinned in
# pyproject.toml) is already the CUDA 13.0 build: its CUDA runtime, cuDNN, cuBLAS, NCCL, ... come
# as the nvidia-* wheels pinned in constraints.txt, so no separate CUDA wheel index is needed and
# a CUDA base image would only add a second, differently versioned copy of the same libraries.
# The NVIDIA Container Toolkit mounts the driver at run time (libcuda, and libnvcuvid for NVDEC
# through the "video" capability below); CUDA 13.0 needs a driver >= 580.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,video \
    DVC_NO_ANALYTICS=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_CACHE_HOME=/tmp/ballspot-cache \
    TRITON_CACHE_DIR=/tmp/ballspot-cache/triton \
    TORCHINDUCTOR_CACHE_DIR=/tmp/ballspot-cache/inductor \
    MPLCONFIGDIR=/tmp/ballspot-cache/matplotlib
# (caches under /tmp: the container may run as any --user; they need no persistence)

# git: DVC reads the repository when a clone is mounted. gcc/g++ + libc headers: Triton
# (torch.compile) compiles its launcher stubs at run time. No FFmpeg: the PyAV and OpenCV wheels
# bundle their own, and PyNvVideoCodec uses the driver's NVDEC.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git gcc g++ libc6-dev \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'

WORKDIR /ballspot

# Every dependency at its pinned version (constraints.txt is the whole resolved set, including
# torch, the CUDA wheels and PyNvVideoCodec) in its own layer: code changes do not reinstall it.
COPY constraints.txt ./
RUN pip install --no-cache-dir -r constraints.txt

COPY . .
# Editable, so a clone mounted over /ballspot is the code that runs (PyNvVideoCodec is not
# imported here: it needs the driver, which only exists at run time). Without a mount there is
# no .git (see .dockerignore): DVC then works without git (core.no_scm, local config only).
RUN pip install --no-cache-dir --no-deps -e . \
    && dvc config --local core.no_scm true \
    && python -c "import ballspot, torch, av, cv2; print('torch', torch.__version__)"

CMD ["dvc", "repro"]
