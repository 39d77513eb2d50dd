"""The project's own libnftables binding: a context parses and reports as nft does (no
namespace is changed: the commands here are refused before anything is sent)."""

from __future__ import annotations

from harness.adapters.libnftables import STATELESS, Context, library


def test_a_bad_script_is_refused_with_nfts_own_words() -> None:
    code, output, error = Context().cmd("add rule inet nosuch chain ip saddr bogus drop")
    assert code != 0 and output == ""
    assert "Error:" in error


def test_stateless_output_is_a_flag_set_and_cleared() -> None:
    context = Context()
    lib = library()
    context.set_stateless_output(True)
    assert lib.nft_ctx_output_get_flags(context._ctx) & STATELESS
    context.set_stateless_output(False)
    assert not lib.nft_ctx_output_get_flags(context._ctx) & STATELESS
