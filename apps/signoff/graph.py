"""Draw a Step Functions definition as an SVG picture, each state marked with its status.

The success path (the longest run from ``StartAt`` along ``Next`` and Choice edges that does
not end in a Fail state) runs down the left column; the other states sit in the column
beside it, level with the lowest state that leads to them, so the failure path reads as a
side road.
Catch edges are dashed. Colours come with a text status in each box and a legend, so the
picture reads in grey too. Plain Python: a command line tool can write the same picture.

Parallel and Map states are drawn as one box each; their inner branches are not drawn.
"""

from dataclasses import dataclass
from html import escape

DONE = "done"
RUNNING = "running"
WAITING = "waiting for signoff"
FAILED = "failed"
NOT_REACHED = "not reached"
STATUSES = (DONE, RUNNING, WAITING, FAILED, NOT_REACHED)

# (fill, stroke, text) per status; presentation attributes, because a strict
# Content-Security-Policy blocks inline style.
COLOURS = {
    DONE: ("#e3f1e6", "#2e7d32", "#1b4d1f"),
    RUNNING: ("#e1ebfb", "#1a56b3", "#123c7d"),
    WAITING: ("#fff1c7", "#a15c00", "#6b3d00"),
    FAILED: ("#fbe3e1", "#b3261e", "#7f1a15"),
    NOT_REACHED: ("#f4f4f4", "#9a9a9a", "#5f5f5f"),
}
EDGE_COLOUR = "#4a4a4a"
CATCH_COLOUR = "#b3261e"

MARGIN = 24
BOX_HEIGHT = 48
ROW_PITCH = 82
COLUMN_GAP = 64
PILL_HEIGHT = 24
CHAR_WIDTH = 8.2
LEGEND_LINE = 24
LEGEND_CHAR_WIDTH = 6.8


@dataclass(frozen=True)
class Edge:
    """A way from one state to another: its kind is next, choice or catch."""

    source: str
    target: str
    kind: str
    label: str = ""


@dataclass(frozen=True)
class Placement:
    """Where a state's box goes: a row (top down) and a column (0 is the success path)."""

    row: int
    column: int


def edges_of(definition: dict) -> list[Edge]:
    """Every edge of the definition's top level, one per pair of states."""
    edges: dict[tuple[str, str], Edge] = {}
    for name, state in definition["States"].items():
        found = []
        if state.get("Next"):
            found.append(Edge(name, state["Next"], "next"))
        if state.get("Default"):
            found.append(Edge(name, state["Default"], "choice", "default"))
        for choice in state.get("Choices", []):
            found.append(Edge(name, choice["Next"], "choice"))
        for catcher in state.get("Catch", []):
            found.append(Edge(name, catcher["Next"], "catch", _error_label(catcher)))
        for edge in found:
            if edge.target in definition["States"]:
                edges.setdefault((edge.source, edge.target), edge)
    return list(edges.values())


def success_path(definition: dict) -> list[str]:
    """The longest run of states from StartAt, along Next and Choice edges, that ends well.

    A run that ends in a Fail state counts only when no other run exists, so a Choice that
    turns bad input away does not pull the picture's middle column to the failure.
    """
    states, longest = definition["States"], {}

    def onward(name: str, seen: frozenset) -> list[str]:
        """The best run from name, never stepping back onto a state already on it."""
        if name in longest:
            return longest[name]
        state = states[name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice.get("Next") for choice in state.get("Choices", [])]
        runs = [onward(t, seen | {name}) for t in targets if t in states and t not in seen]
        good = [run for run in runs if states[run[-1]]["Type"] != "Fail"]
        longest[name] = [name] + max(good or runs or [[]], key=len)
        return longest[name]

    start = definition["StartAt"]
    return onward(start, frozenset()) if start in states else []


def place_states(definition: dict) -> dict[str, Placement]:
    """A row and column for every state: success path on the left, the rest beside it."""
    placed = {name: Placement(row, 0) for row, name in enumerate(success_path(definition))}
    edges = edges_of(definition)
    remaining = [name for name in definition["States"] if name not in placed]
    for _ in range(len(remaining) + 1):
        for name in list(remaining):
            sources = [edge.source for edge in edges if edge.target == name]
            if any(source not in placed for source in sources if source != name):
                continue
            row = max(
                (placed[s].row + (placed[s].column > 0) for s in sources if s in placed),
                default=0,
            )
            placed[name] = _free_placement(placed, row)
            remaining.remove(name)
    # States in a cycle of side states, or never referred to: below everything else.
    for name in remaining:
        placed[name] = _free_placement(placed, max(p.row for p in placed.values()) + 1)
    return placed


def draw_svg(
    definition: dict, statuses: dict[str, str] | None = None, *, title: str = "Workflow"
) -> str:
    """The definition as an SVG document; states without a status are "not reached"."""
    statuses = statuses or {}
    placed = place_states(definition)
    box_width = _box_width(definition["States"])
    canvas = _Canvas(placed, box_width)
    starts = [definition["StartAt"]] if definition["StartAt"] in placed else []
    ends = [n for n, s in definition["States"].items() if s.get("End") or s["Type"] == "Succeed"]

    parts = [_defs(), canvas.edges(edges_of(definition))]
    for name in starts:
        parts.append(canvas.pill(name, "start", above=True))
    for name in ends:
        parts.append(canvas.pill(name, "end", above=False))
    for name, state in definition["States"].items():
        parts.append(canvas.box(name, state, statuses.get(name, NOT_REACHED)))
    legend, legend_height = _legend(canvas.width, canvas.height)
    parts.append(legend)

    height = canvas.height + legend_height
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="workflow-graph" role="img" '
        f'width="{canvas.width}" height="{height}" viewBox="0 0 {canvas.width} {height}" '
        f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
        f'aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f"<desc>{escape(_description(definition, statuses))}</desc>"
        f'<rect width="{canvas.width}" height="{height}" fill="#ffffff"/>'
        + "".join(parts)
        + "</svg>"
    )


class _Canvas:
    """Coordinates of placed boxes, and the shapes drawn between them."""

    def __init__(self, placed: dict[str, Placement], box_width: int):
        self.placed = placed
        self.box_width = box_width
        self.top = MARGIN + PILL_HEIGHT + (ROW_PITCH - BOX_HEIGHT)
        columns = max(p.column for p in placed.values()) + 1
        rows = max(p.row for p in placed.values()) + 1
        self.width = MARGIN * 2 + columns * box_width + columns * COLUMN_GAP
        self.height = self.top + rows * ROW_PITCH + PILL_HEIGHT + MARGIN

    def left(self, name: str) -> float:
        """The x of a state's box's left side."""
        return MARGIN + self.placed[name].column * (self.box_width + COLUMN_GAP)

    def right(self, name: str) -> float:
        """The x of a state's box's right side."""
        return self.left(name) + self.box_width

    def top_of(self, name: str) -> float:
        """The y of a state's box's top."""
        return self.top + self.placed[name].row * ROW_PITCH

    def middle(self, name: str) -> float:
        """The y of a state's box's middle, where same-row edges meet it."""
        return self.top_of(name) + BOX_HEIGHT / 2

    def lane(self, column: int) -> float:
        """The vertical road right of a column, where edges go down to a lower row."""
        return MARGIN + column * (self.box_width + COLUMN_GAP) + self.box_width + COLUMN_GAP / 2

    def box(self, name: str, state: dict, status: str) -> str:
        """A state's box: its name and status, coloured by status, with a tooltip."""
        fill, stroke, text = COLOURS.get(status, COLOURS[NOT_REACHED])
        x, y = self.left(name), self.top_of(name)
        dashed = ' stroke-dasharray="5 3"' if status == NOT_REACHED else ""
        width = 3 if status in (RUNNING, WAITING, FAILED) else 1.5
        corner = 16 if state["Type"] in ("Fail", "Succeed") else 6
        shown = _fit(name, self.box_width)
        cx = x + self.box_width / 2
        return (
            f'<g class="state"><title>{escape(name)} ({escape(state["Type"])}): '
            f"{escape(status)}</title>"
            f'<rect x="{x}" y="{y}" width="{self.box_width}" height="{BOX_HEIGHT}" '
            f'rx="{corner}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dashed}/>'
            f'<text x="{cx}" y="{y + 20}" text-anchor="middle" font-size="13" '
            f'font-weight="bold" fill="{text}">{escape(shown)}</text>'
            f'<text x="{cx}" y="{y + 37}" text-anchor="middle" font-size="11" '
            f'fill="{text}">{escape(status)}</text></g>'
        )

    def pill(self, name: str, label: str, above: bool) -> str:
        """A small start or end marker above or below a state, with its arrow."""
        cx = self.left(name) + self.box_width / 2
        if above:
            y = self.top_of(name) - (ROW_PITCH - BOX_HEIGHT) - PILL_HEIGHT / 2
            line = (cx, y + PILL_HEIGHT, cx, self.top_of(name))
        else:
            y = self.top_of(name) + BOX_HEIGHT + (ROW_PITCH - BOX_HEIGHT) - PILL_HEIGHT / 2
            line = (cx, self.top_of(name) + BOX_HEIGHT, cx, y)
        return (
            f'<line x1="{line[0]}" y1="{line[1]}" x2="{line[2]}" y2="{line[3]}" '
            f'stroke="{EDGE_COLOUR}" stroke-width="1.5" marker-end="url(#arrow-next)"/>'
            f'<rect x="{cx - 30}" y="{y}" width="60" height="{PILL_HEIGHT}" rx="12" '
            f'fill="#ffffff" stroke="{EDGE_COLOUR}"/>'
            f'<text x="{cx}" y="{y + 16}" text-anchor="middle" font-size="12" '
            f'fill="{EDGE_COLOUR}">{label}</text>'
        )

    def edges(self, edges: list[Edge]) -> str:
        """Every edge; edges that go along the same lane to the same state share one trunk."""
        parts, trunks = [], {}
        for edge in edges:
            points = self._route(edge)
            if len(points) == 2:
                parts.append(_polyline(points, edge, arrow=True))
                continue
            parts.append(_polyline(points[:2], edge, arrow=False))
            trunk = trunks.setdefault((points[1][0], points[-1], edge.kind), (edge, []))
            trunk[1].append(points[1][1])
        for (lane, end, _), (edge, heights) in trunks.items():
            top, bottom = min([*heights, end[1]]), max([*heights, end[1]])
            parts.append(_polyline([(lane, top), (lane, bottom)], edge, False, described=False))
            parts.append(_polyline([(lane, end[1]), end], edge, True, described=False))
        return "".join(parts)

    def _route(self, edge: Edge) -> list[tuple[float, float]]:
        source, target = self.placed[edge.source], self.placed[edge.target]
        a, b = edge.source, edge.target
        cx_a = self.left(a) + self.box_width / 2
        cx_b = self.left(b) + self.box_width / 2
        # Catch edges leave from the lower part of the box, so they stay apart from a Next
        # or a same-row edge leaving the same side.
        exit_y = self.middle(a) + (12 if edge.kind == "catch" else 0)
        if source.column == target.column and target.row == source.row + 1:
            return [(cx_a, self.top_of(a) + BOX_HEIGHT), (cx_b, self.top_of(b))]
        if source.row == target.row and source.column != target.column:
            if target.column > source.column:
                return [(self.right(a), self.middle(a)), (self.left(b), self.middle(b))]
            return [(self.left(a), self.middle(a)), (self.right(b), self.middle(b))]
        if target.column > source.column:
            lane = self.lane(source.column)
            return [
                (self.right(a), exit_y),
                (lane, exit_y),
                (lane, self.middle(b)),
                (self.left(b), self.middle(b)),
            ]
        if target.column < source.column:
            lane = self.lane(target.column)
            return [
                (self.left(a), exit_y),
                (lane, exit_y),
                (lane, self.middle(b)),
                (self.right(b), self.middle(b)),
            ]
        lane = self.lane(source.column)
        return [
            (self.right(a), exit_y),
            (lane, exit_y),
            (lane, self.middle(b)),
            (self.right(b), self.middle(b)),
        ]


def _polyline(
    points: list[tuple[float, float]], edge: Edge, arrow: bool, described: bool = True
) -> str:
    catch = edge.kind == "catch"
    colour = CATCH_COLOUR if catch else EDGE_COLOUR
    dashes = ' stroke-dasharray="6 4"' if catch else ""
    marker = f' marker-end="url(#arrow-{edge.kind if catch else "next"})"' if arrow else ""
    path = " ".join(f"{x:g},{y:g}" for x, y in points)
    title = ""
    if described:
        title = f"<title>{escape(edge.source)} to {escape(edge.target)}"
        title += f": {escape(edge.label)}</title>" if edge.label else "</title>"
    label = ""
    if described and arrow and edge.label and len(points) == 2 and points[0][1] == points[1][1]:
        label = (
            f'<text x="{(points[0][0] + points[1][0]) / 2:g}" y="{points[0][1] - 6:g}" '
            f'text-anchor="middle" font-size="11" fill="{colour}">{escape(edge.label)}</text>'
        )
    return (
        f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"'
        f"{dashes}{marker}>{title}</polyline>{label}"
    )


def _defs() -> str:
    markers = []
    for name, colour in (("arrow-next", EDGE_COLOUR), ("arrow-catch", CATCH_COLOUR)):
        markers.append(
            f'<marker id="{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    return "<defs>" + "".join(markers) + "</defs>"


def _legend(width: float, top: float) -> tuple[str, int]:
    items = [("status", status) for status in STATUSES]
    items += [("edge", "next step"), ("catch", "on error (Catch)")]
    parts, x, y = [], MARGIN, top + 4
    for kind, label in items:
        item_width = 30 + len(label) * LEGEND_CHAR_WIDTH + 18
        if x + item_width > width - MARGIN and x > MARGIN:
            x, y = MARGIN, y + LEGEND_LINE
        if kind == "status":
            fill, stroke, _ = COLOURS[label]
            dashed = ' stroke-dasharray="4 2"' if label == NOT_REACHED else ""
            parts.append(
                f'<rect x="{x}" y="{y}" width="22" height="14" rx="3" fill="{fill}" '
                f'stroke="{stroke}" stroke-width="1.5"{dashed}/>'
            )
        else:
            colour = CATCH_COLOUR if kind == "catch" else EDGE_COLOUR
            dashes = ' stroke-dasharray="6 4"' if kind == "catch" else ""
            parts.append(
                f'<line x1="{x}" y1="{y + 7}" x2="{x + 22}" y2="{y + 7}" stroke="{colour}" '
                f'stroke-width="1.5"{dashes}/>'
            )
        parts.append(
            f'<text x="{x + 30:g}" y="{y + 12}" font-size="12" fill="#222222">'
            f"{escape(label)}</text>"
        )
        x += item_width
    height = int(y - top) + LEGEND_LINE + MARGIN // 2
    return '<g class="legend">' + "".join(parts) + "</g>", height


def _description(definition: dict, statuses: dict[str, str]) -> str:
    return "; ".join(f"{name}: {statuses.get(name, NOT_REACHED)}" for name in definition["States"])


def _free_placement(placed: dict[str, Placement], row: int) -> Placement:
    taken = {(p.row, p.column) for p in placed.values()}
    while (row, 1) in taken:
        row += 1
    return Placement(row, 1)


def _error_label(catcher: dict) -> str:
    errors = catcher.get("ErrorEquals", [])
    if errors == ["States.ALL"]:
        return "error"
    if errors == ["States.Timeout"]:
        return "timeout"
    return ", ".join(error.removeprefix("States.") for error in errors)


def _box_width(states: dict) -> int:
    longest = max((len(name) for name in states), default=10)
    return int(min(max(180, longest * CHAR_WIDTH + 28), 280))


def _fit(name: str, box_width: int) -> str:
    room = int((box_width - 16) / CHAR_WIDTH)
    return name if len(name) <= room else name[: room - 1] + "…"
