"""The project's own binding of libnftables (``libnftables.so.1``, Debian's ``libnftables1``):
the five calls sg-harness makes, through ctypes.

Debian's ``python3-nftables`` is the same thin ctypes wrapper, but it lives in the system's
``dist-packages`` and is not on PyPI, so a virtual environment could only reach it through a
symlink. Carrying the few lines here lets ``pip install sg-harness`` work in any environment
on a machine that has the library (``sgh doctor`` says when it does not).
"""

from __future__ import annotations

import ctypes
from ctypes import c_char_p, c_int, c_uint, c_void_p
from typing import Final

LIBRARY: Final = "libnftables.so.1"
STATELESS: Final = 1 << 2  # NFT_CTX_OUTPUT_STATELESS: listings without counters' values


class NftablesMissing(OSError):
    """libnftables cannot be loaded (the package libnftables1 is not installed)."""


def _load() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError as err:
        raise NftablesMissing(f"{LIBRARY} cannot be loaded ({err}): install libnftables1") from None
    lib.nft_ctx_new.restype = c_void_p
    lib.nft_ctx_new.argtypes = [c_int]
    lib.nft_ctx_free.argtypes = [c_void_p]
    lib.nft_ctx_output_get_flags.restype = c_uint
    lib.nft_ctx_output_get_flags.argtypes = [c_void_p]
    lib.nft_ctx_output_set_flags.argtypes = [c_void_p, c_uint]
    lib.nft_ctx_buffer_output.restype = c_int
    lib.nft_ctx_buffer_output.argtypes = [c_void_p]
    lib.nft_ctx_buffer_error.restype = c_int
    lib.nft_ctx_buffer_error.argtypes = [c_void_p]
    lib.nft_ctx_get_output_buffer.restype = c_char_p
    lib.nft_ctx_get_output_buffer.argtypes = [c_void_p]
    lib.nft_ctx_get_error_buffer.restype = c_char_p
    lib.nft_ctx_get_error_buffer.argtypes = [c_void_p]
    lib.nft_run_cmd_from_buffer.restype = c_int
    lib.nft_run_cmd_from_buffer.argtypes = [c_void_p, c_char_p]
    return lib


_LIB: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    """The loaded library (once a process); :class:`NftablesMissing` when it is absent."""
    global _LIB
    if _LIB is None:
        _LIB = _load()
    return _LIB


class Context:
    """A libnftables context, output and errors buffered. It holds a netlink socket of the
    network namespace of the thread that made it, for as long as it lives."""

    def __init__(self) -> None:
        self._lib = library()
        self._ctx = self._lib.nft_ctx_new(0)
        if not self._ctx:
            raise NftablesMissing("nft_ctx_new failed")
        self._lib.nft_ctx_buffer_output(self._ctx)
        self._lib.nft_ctx_buffer_error(self._ctx)

    def __del__(self) -> None:
        ctx, self._ctx = getattr(self, "_ctx", None), None
        if ctx:
            self._lib.nft_ctx_free(ctx)

    def set_stateless_output(self, on: bool) -> None:
        flags = self._lib.nft_ctx_output_get_flags(self._ctx)
        self._lib.nft_ctx_output_set_flags(
            self._ctx, flags | STATELESS if on else flags & ~STATELESS
        )

    def cmd(self, text: str) -> tuple[int, str, str]:
        """Run nft commands (what ``nft -f`` reads): the return code, output and errors."""
        code = self._lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
        output = self._lib.nft_ctx_get_output_buffer(self._ctx) or b""
        error = self._lib.nft_ctx_get_error_buffer(self._ctx) or b""
        return int(code), output.decode(), error.decode()
