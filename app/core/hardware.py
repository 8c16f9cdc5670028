"""What this machine has: cores, memory, the GPU backend llama.cpp was built with, and each GPU's memory."""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

# llama.cpp backend library name fragments -> backend, in order of preference
_BACKEND_LIBRARIES = (("cuda", "cuda"), ("metal", "metal"), ("hip", "rocm"), ("vulkan", "vulkan"), ("sycl", "sycl"))
_NVIDIA_SMI_QUERY = ["--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"]
_MIB = 1024 * 1024


@dataclass
class GPU:
    """One GPU as the platform reports it; `unified` means it shares system RAM (Apple Silicon)."""

    name: str
    total_bytes: int
    free_bytes: int
    unified: bool = False


@dataclass
class Hardware:
    """A snapshot of this machine's resources for fit estimates and the hardware summary."""

    cpu_name: str
    physical_cores: int
    logical_cores: int
    ram_total_bytes: int
    ram_available_bytes: int
    backend: str  # cpu, cuda, metal, rocm, vulkan, sycl
    gpus: list[GPU] = field(default_factory=list)

    @property
    def gpu_free_bytes(self) -> int:
        """Memory free for model layers across GPUs (0 when llama.cpp cannot offload)."""
        return sum(gpu.free_bytes for gpu in self.gpus) if self.backend != "cpu" else 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "gpu_free_bytes": self.gpu_free_bytes}


def physical_cores() -> int:
    """Physical CPU cores (llama.cpp decodes fastest with one thread per physical core)."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def memory() -> dict[str, int]:
    """Total and available RAM in bytes."""
    info = psutil.virtual_memory()
    return {"total_bytes": int(info.total), "available_bytes": int(info.available)}


def llama_backend(library_dir: Path | None = None) -> str:
    """The GPU backend the installed llama.cpp was built with, from the libraries it ships; `cpu` if none.

    Reads the package's folder without importing it, so the GUI process never loads llama.cpp.
    """
    if library_dir is None:
        spec = importlib.util.find_spec("llama_cpp")
        if spec is None or not spec.submodule_search_locations:
            return "cpu"
        library_dir = Path(next(iter(spec.submodule_search_locations))) / "lib"
    names = " ".join(p.name.lower() for p in library_dir.glob("*")) if library_dir.is_dir() else ""
    for fragment, backend in _BACKEND_LIBRARIES:
        if f"ggml-{fragment}" in names:
            return backend
    if platform.system() == "Darwin" and platform.machine() == "arm64" and "ggml-blas" in names:
        return "metal"  # older macOS wheels link Metal into libggml itself
    return "cpu"


def parse_nvidia_smi(output: str) -> list[GPU]:
    """GPUs from `nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits`."""
    gpus = []
    for line in output.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            gpus.append(GPU(parts[0], int(parts[1]) * _MIB, int(parts[2]) * _MIB))
    return gpus


def _nvidia_gpus() -> list[GPU]:
    try:
        import pynvml  # optional: nvidia-ml-py

        pynvml.nvmlInit()
        try:
            gpus = []
            for index in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                info = pynvml.nvmlDeviceGetMemoryInfo(handle)
                name = pynvml.nvmlDeviceGetName(handle)
                gpus.append(GPU(name.decode() if isinstance(name, bytes) else name, info.total, info.free))
            return gpus
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # NVML missing or no driver: fall back to the command line tool
        pass
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        result = subprocess.run([smi, *_NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_nvidia_smi(result.stdout) if result.returncode == 0 else []


def _apple_gpus(ram_total: int, ram_available: int) -> list[GPU]:
    if platform.system() != "Darwin" or platform.machine() != "arm64":
        return []
    # Metal may use about three quarters of unified memory by default (recommendedMaxWorkingSetSize).
    return [GPU("Apple Silicon GPU", ram_total * 3 // 4, min(ram_available, ram_total * 3 // 4), unified=True)]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def probe() -> Hardware:
    """Look at this machine now (fast: no model is loaded)."""
    ram = memory()
    # GPUs are listed even when llama.cpp cannot use them, so the summary can say why they sit idle
    gpus = _nvidia_gpus() + _apple_gpus(ram["total_bytes"], ram["available_bytes"])
    return Hardware(
        cpu_name=_cpu_name(),
        physical_cores=physical_cores(),
        logical_cores=psutil.cpu_count() or 1,
        ram_total_bytes=ram["total_bytes"],
        ram_available_bytes=ram["available_bytes"],
        backend=llama_backend(),
        gpus=gpus,
    )
