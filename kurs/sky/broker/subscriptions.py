"""Which sessions a topic reaches: a tree of topic filters, one level a node.

Matching walks only the branches that can match (literal level, ``+`` and ``#``), so a
publish costs the depth of the topic, not the number of subscriptions. Topics starting
with ``$`` are not matched by a wildcard at the first level [MQTT-4.7.2-1].
"""

from __future__ import annotations

from typing import Any


class _Node:
    __slots__ = ("children", "subscribers")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.subscribers: dict[str, Any] = {}  # client id -> the subscription's data


class SubscriptionTree:
    def __init__(self) -> None:
        self._root = _Node()

    def add(self, topic_filter: str, client_id: str, data: Any) -> None:
        node = self._root
        for level in topic_filter.split("/"):
            node = node.children.setdefault(level, _Node())
        node.subscribers[client_id] = data

    def remove(self, topic_filter: str, client_id: str) -> None:
        path = [self._root]
        for level in topic_filter.split("/"):
            nxt = path[-1].children.get(level)
            if nxt is None:
                return
            path.append(nxt)
        path[-1].subscribers.pop(client_id, None)
        levels = topic_filter.split("/")
        for depth in range(len(levels), 0, -1):  # prune empty branches
            node = path[depth]
            if node.subscribers or node.children:
                break
            del path[depth - 1].children[levels[depth - 1]]

    def match(self, topic: str) -> list[tuple[str, Any]]:
        """Every (client id, subscription data) whose filter matches; a client may appear more
        than once when several of its filters match."""
        out: list[tuple[str, Any]] = []
        levels = topic.split("/")
        dollar = topic.startswith("$")
        self._walk(self._root, levels, 0, out, dollar)
        return out

    def _walk(self, node: _Node, levels: list[str], i: int, out: list[tuple[str, Any]], dollar: bool) -> None:
        children = node.children
        wild_ok = not (dollar and i == 0)
        if wild_ok:
            hash_node = children.get("#")
            if hash_node is not None:  # "a/#" matches "a" too [MQTT-4.7.1-2]
                out.extend(hash_node.subscribers.items())
        if i == len(levels):
            out.extend(node.subscribers.items())
            return
        child = children.get(levels[i])
        if child is not None:
            self._walk(child, levels, i + 1, out, dollar)
        if wild_ok:
            plus = children.get("+")
            if plus is not None:
                self._walk(plus, levels, i + 1, out, dollar)
