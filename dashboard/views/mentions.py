"""Menciones: the latest negative mentions to answer, newest first, with links and a search box."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data

LIMIT = 200
# Mentions drawn as cards at most: a phone reads the latest ones, the table has them all.
CARDS = 50


def on_phone() -> bool:
    """Whether the browser says it is a phone (the Sec-CH-UA-Mobile hint, or "Mobile" in its
    User-Agent): the grid's eight columns need a sideways scroll at 390 px, cards do not."""
    headers = st.context.headers
    return headers.get("Sec-CH-UA-Mobile") == "?1" or "Mobile" in headers.get("User-Agent", "")


def card(row: pd.Series) -> None:
    """One mention as a bordered card: when, where and how negative, its text, its link."""
    with st.container(border=True):
        when = pd.Timestamp(row["published_at"]).strftime("%d/%m %H:%M")  # already local
        meta = [
            when,
            str(row["source"]),
            f"{row['compound']:+.2f}" if pd.notna(row["compound"]) else "",
        ]
        if row.get("topics"):
            meta.append(str(row["topics"]))
        st.caption(data.md_escape(" · ".join(m for m in meta if m)))
        st.markdown(data.md_escape(str(row["text"])[:600]))
        if url := data.safe_url(row["url"]):
            author = f" · {data.md_escape(str(row['author']))}" if row.get("author") else ""
            st.markdown(f"[Abrir ↗]({url}){author}")


f = data.current_filters()
st.title("Menciones por responder (Mentions to answer)")
st.caption(f"{', '.join(f.brands) or 'Todas las marcas'} · {data.period_label(f)}")

search_box, scope = st.columns([3, 1], vertical_alignment="bottom")
search = search_box.text_input(
    "Buscar (search)",
    placeholder="Palabra del texto o autor… (text or author)",
    key="mentions_search",
)
negative_only = scope.toggle("Solo negativas (negative only)", value=True, key="mentions_negative")

rows = data.mentions(f, search=search, negative_only=negative_only, limit=LIMIT)
if rows.empty:
    st.info("No hay menciones con estos filtros. (No mentions match these filters.)")
    st.stop()

shown = "las más recientes" if len(rows) == LIMIT else "todas"
st.caption(f"{len(rows)} menciones ({shown}), de la más reciente a la más antigua")
layout = st.segmented_control(
    "Vista (view)",
    ["cards", "table"],
    format_func=lambda v: "Tarjetas (cards)" if v == "cards" else "Tabla (table)",
    default="cards" if on_phone() else "table",
    required=True,
    key="mentions_layout",
)
if layout == "cards":
    for _, row in rows.head(CARDS).iterrows():
        card(row)
    if len(rows) > CARDS:
        st.caption(f"Las {CARDS} más recientes: la tabla y el CSV las tienen todas.")
else:
    st.dataframe(
        rows,
        hide_index=True,
        column_order=[
            "published_at",
            "text",
            "url",
            "source",
            "compound",
            "topics",
            "language",
            "author",
            "engagement",
            *(["brand"] if len(f.brands) != 1 else []),
        ],
        column_config={
            "published_at": st.column_config.DatetimeColumn(
                "Fecha", format="DD/MM HH:mm", width=95
            ),
            "brand": st.column_config.TextColumn("Marca", width="small"),
            "source": st.column_config.TextColumn("Fuente", width="small"),
            "language": st.column_config.TextColumn("Idioma", width="small"),
            "compound": st.column_config.NumberColumn(
                "Sentimiento", format="%+.2f", width=90, help="−1 muy negativo … +1 muy positivo"
            ),
            "topics": st.column_config.TextColumn("Temas", width="small"),
            "text": st.column_config.TextColumn("Texto (text)", width=520),
            "author": st.column_config.TextColumn("Autor", width="small"),
            "engagement": st.column_config.NumberColumn(
                "Interacciones", width="small", help="Respuestas + compartidos + me gusta + puntos"
            ),
            "url": st.column_config.LinkColumn("Enlace", display_text="Abrir ↗", width=70),
        },
        height=min(38 + 35 * len(rows), 640),
    )
st.download_button(
    "Descargar CSV (download)",
    data.mentions_csv(rows),
    file_name="vigia-menciones.csv",
    mime="text/csv",
    icon=":material/download:",
)
