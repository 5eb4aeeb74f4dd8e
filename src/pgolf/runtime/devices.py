"""Dense bf16 tensor-core peaks of known accelerators, for model FLOPs utilisation (MFU).

Figures are the vendors' datasheet numbers without structured sparsity (H100 SXM 989 TFLOP/s, not 1,979). A device
torch names differently from every entry (or a CPU) has no peak: callers report FLOP/s only, never a guessed MFU.
"""

from __future__ import annotations

# Dense (no sparsity) bf16 tensor-core peaks, FLOP/s, from the vendors' datasheets. First match wins, so the more
# specific names come first. CPU has no entry: FLOP/s only, no MFU.
DEVICE_PEAKS: tuple[tuple[tuple[str, ...], str, float], ...] = (
    (("H100", "PCIE"), "H100 PCIe", 756e12),
    (("H100", "NVL"), "H100 NVL", 835e12),
    (("H100",), "H100 SXM", 989e12),
    (("GH200",), "GH200", 989e12),
    (("H200", "NVL"), "H200 NVL", 835e12),
    (("H200",), "H200 SXM", 989e12),
    (("B200",), "B200", 2250e12),
    (("A100",), "A100", 312e12),
    (("L40S",), "L40S", 362e12),
    (("L4",), "L4", 121e12),
    (("4090",), "RTX 4090", 165e12),
)


def device_peak(name: str | None) -> tuple[str, float] | None:
    """(table name, dense bf16 FLOP/s) for a device name as torch reports it, or None when unknown/CPU."""
    if not name:
        return None
    up = name.upper()
    for keys, label, peak in DEVICE_PEAKS:
        if all(k in up for k in keys):
            return label, peak
    return None


def mfu(flops_per_token: float, tokens_per_s: float, peak: float) -> float:
    """Model FLOPs utilisation: achieved model FLOP/s over the device's peak."""
    return flops_per_token * tokens_per_s / peak
