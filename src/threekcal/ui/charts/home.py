"""The Home page's data-flow diagram."""

from __future__ import annotations

from threekcal.ui.i18n import translate


def flow_dot(lang: str) -> str:
    """The data flow as Graphviz DOT (Streamlit draws DOT in the browser; no graphviz binary needed)."""

    def node(name: str, key: str, shape: str = "box", fill: str = "#E8F0FE") -> str:
        label = translate(key, lang).replace('"', "'")
        return f'  {name} [label="{label}", shape={shape}, style="rounded,filled", fillcolor="{fill}"];'

    def edge(source: str, target: str, key: str, style: str = "solid") -> str:
        label = translate(key, lang).replace('"', "'")
        return f'  {source} -> {target} [label="{label}", style={style}, fontsize=10];'

    return "\n".join(
        [
            "digraph threekcal {",
            '  rankdir=LR; bgcolor="transparent";',
            '  node [fontname="sans-serif"]; edge [fontname="sans-serif"];',
            node("user", "flow_user", "ellipse", "#FFF4D6"),
            node("ui", "flow_ui"),
            node("api", "flow_api"),
            node("db", "flow_db", "cylinder", "#E6F4EA"),
            node("predict", "flow_predict"),
            node("log", "flow_log", "note", "#F3E8FD"),
            node("apply", "flow_apply"),
            node("admin", "flow_admin", "ellipse", "#FFF4D6"),
            node("scheduler", "flow_scheduler", "component", "#F1F3F4"),
            edge("user", "ui", "flow_edge_submit"),
            edge("ui", "api", "flow_edge_http"),
            edge("api", "db", "flow_edge_store"),
            edge("db", "predict", "flow_edge_pending"),
            edge("predict", "log", "flow_edge_write"),
            edge("log", "apply", "flow_edge_read"),
            edge("apply", "db", "flow_edge_update"),
            edge("admin", "ui", "flow_edge_label"),
            edge("scheduler", "predict", "flow_edge_runs", "dashed"),
            edge("scheduler", "apply", "flow_edge_runs", "dashed"),
            "}",
        ]
    )
