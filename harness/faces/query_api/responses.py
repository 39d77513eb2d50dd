"""EC2's XML documents, built with ElementTree (the library escapes every text)."""

from __future__ import annotations

from xml.etree.ElementTree import Element, tostring


def E(tag: str, *content: Element | str | None) -> Element:
    """An element with children and text (ElementTree escapes the text)."""
    node = Element(tag)
    for item in content:
        if isinstance(item, Element):
            node.append(item)
        elif item is not None:
            node.text = (node.text or "") + str(item)
    return node


def document(root: Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode")


def error_xml(code: str, message: str, request_id: str) -> str:
    return document(
        E(
            "Response",
            E("Errors", E("Error", E("Code", code), E("Message", message))),
            E("RequestID", request_id),
        )
    )
