"""`roundtable hardware`: what this machine offers models (CPU, RAM, GPUs, llama.cpp's backend)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.output import human_bytes, print_json

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_hardware(args: argparse.Namespace, _ctx: AppContext) -> int:
    from app.core.hardware import probe

    hardware = probe()
    if args.json:
        print_json(hardware.to_dict())
        return 0
    print(f"CPU      {hardware.cpu_name}: {hardware.physical_cores} cores ({hardware.logical_cores} threads)")
    print(
        f"RAM      {human_bytes(hardware.ram_total_bytes)} total, {human_bytes(hardware.ram_available_bytes)} available"
    )
    print(f"llama.cpp backend: {hardware.backend}")
    if not hardware.gpus:
        print("GPU      none found")
    for gpu in hardware.gpus:
        kind = " (unified memory)" if gpu.unified else ""
        print(f"GPU      {gpu.name}{kind}: {human_bytes(gpu.total_bytes)} total, {human_bytes(gpu.free_bytes)} free")
    if hardware.gpus and hardware.backend == "cpu":
        print("         llama.cpp was built without GPU support: see the README to build it for your GPU.")
    return 0


def register(commands: Any) -> None:
    """Add `hardware` to the command parser."""
    hardware = commands.add_parser("hardware", help="what this machine offers models: CPU, RAM, GPU, backend")
    hardware.add_argument("--json", action="store_true")
    hardware.set_defaults(handler=cmd_hardware, needs_context=False)
