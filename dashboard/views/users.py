"""Usuarios: local accounts for admins: add, change role, disable or enable, set a password."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import access, data
from vigia.access import accounts
from vigia.access.roles import Actor, Permission, Role


def _apply(change: str, actor: Actor, name: str, value: str) -> None:
    """Run one account change as `actor` (role checked again in vigia.access.accounts)."""
    now = datetime.now(UTC)
    try:
        if change == "role":
            accounts.set_role(data.engine(), actor, name, value, now)
        elif change == "disable":
            accounts.disable_user(data.engine(), actor, name, now)
        elif change == "enable":
            accounts.enable_user(data.engine(), actor, name, now)
        elif change == "password":
            accounts.set_password(data.engine(), actor, name, value, now)
    except (PermissionError, KeyError, ValueError) as exc:
        st.session_state["users_outcome"] = ("error", str(exc.args[0]))
        return
    st.session_state["users_outcome"] = ("success", f"{name}: {change} ✓")


actor = access.require(Permission.MANAGE_USERS)
st.title("Usuarios (Users)")
outcome = st.session_state.pop("users_outcome", None)
if outcome is not None:
    getattr(st, outcome[0])(data.md_escape(outcome[1]))

table = data.user_table(actor)
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "name": st.column_config.TextColumn("Usuario"),
        "role": st.column_config.TextColumn("Rol"),
        "email": st.column_config.TextColumn("E-mail"),
        "active": st.column_config.CheckboxColumn("Activo"),
        "created": st.column_config.TextColumn("Alta"),
    },
)

with st.form("add_user", clear_on_submit=True):
    st.markdown("#### Añadir usuario (add a user)")
    name_col, role_col, email_col = st.columns(3)
    name = name_col.text_input("Usuario")
    role = role_col.selectbox("Rol", [r.value for r in Role])
    email = email_col.text_input("E-mail (opcional)")
    password = st.text_input("Contraseña (10+ caracteres)", type="password")
    if st.form_submit_button("Añadir", icon=":material/person_add:"):
        try:
            accounts.add_user(
                data.engine(), actor, name.strip(), role, password, datetime.now(UTC),
                email=email.strip() or None,
            )  # fmt: skip
            st.success(f"{data.md_escape(name)} añadido ({role}).")
            st.rerun()
        except (PermissionError, ValueError) as exc:
            st.error(data.md_escape(str(exc.args[0])))

if not table.empty:
    st.markdown("#### Cambiar un usuario (change a user)")
    who = st.selectbox("Usuario", list(table["name"]), key="change_name")
    current = table.set_index("name").loc[who]
    role_col, state_col = st.columns(2, vertical_alignment="bottom")
    new_role = role_col.selectbox(
        "Rol", [r.value for r in Role], index=[r.value for r in Role].index(current["role"])
    )
    role_col.button(
        "Cambiar rol", on_click=_apply, args=("role", actor, who, new_role), key="set_role"
    )
    toggle = "enable" if not current["active"] else "disable"
    state_col.button(
        "Activar" if toggle == "enable" else "Desactivar",
        on_click=_apply,
        args=(toggle, actor, who, ""),
        key="toggle_user",
        icon=":material/person_off:" if toggle == "disable" else ":material/person:",
    )
    with st.form("set_password", clear_on_submit=True):
        new_password = st.text_input("Nueva contraseña (10+ caracteres)", type="password")
        if st.form_submit_button("Cambiar contraseña", icon=":material/password:"):
            _apply("password", actor, who, new_password)
            st.rerun()
