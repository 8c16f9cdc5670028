from pathlib import Path

import pytest

from app.core.hardware import llama_backend, parse_nvidia_smi, probe


def test_probe_reads_this_machine() -> None:
    hardware = probe()
    assert hardware.physical_cores >= 1 and hardware.logical_cores >= hardware.physical_cores
    assert 0 < hardware.ram_available_bytes <= hardware.ram_total_bytes
    assert hardware.backend in {"cpu", "cuda", "metal", "rocm", "vulkan", "sycl"}
    assert set(hardware.to_dict()) >= {"ram_total_bytes", "backend", "gpus", "gpu_free_bytes"}


def test_installed_llama_cpp_is_the_cpu_build_here() -> None:
    # ./dev builds llama-cpp-python for the CPU on this machine; a CUDA build would ship libggml-cuda
    assert llama_backend() == "cpu"


@pytest.mark.parametrize(
    ("library", "backend"),
    [
        ("libggml-cuda.so", "cuda"),
        ("libggml-metal.dylib", "metal"),
        ("ggml-vulkan.dll", "vulkan"),
        ("libggml-hip.so", "rocm"),
        ("libggml-cpu.so", "cpu"),
    ],
)
def test_backend_is_read_from_the_libraries_llama_cpp_ships(tmp_path: Path, library: str, backend: str) -> None:
    (tmp_path / "libggml-base.so").touch()
    (tmp_path / library).touch()
    assert llama_backend(tmp_path) == backend


def test_nvidia_smi_output_is_parsed() -> None:
    output = "NVIDIA H100 80GB HBM3, 81559, 80977\nNVIDIA GeForce RTX 4090, 24564, 23000\n"
    gpus = parse_nvidia_smi(output)
    assert [g.name for g in gpus] == ["NVIDIA H100 80GB HBM3", "NVIDIA GeForce RTX 4090"]
    assert gpus[0].total_bytes == 81559 * 1024 * 1024 and gpus[1].free_bytes == 23000 * 1024 * 1024
    assert parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate with the driver") == []
