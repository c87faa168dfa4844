"""Virtual keys: LiteLLM's keys with their usage; admins create, edit, block, unblock, replace and delete them."""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("keys:read")

from lib.core.clock import utcnow  # noqa: E402
from lib.core.formatting import MISSING  # noqa: E402
from lib.core.text_safety import markdown_literal  # noqa: E402
from lib.keys import plans  # noqa: E402
from lib.keys.records import label  # noqa: E402
from lib.keys.usage import key_usage, with_usage  # noqa: E402
from lib.keys.view import (  # noqa: E402
    BUDGET_ALERT_PCT,
    EXPIRING_DAYS,
    IDLE_DAYS,
    SORTS,
    KeyView,
    apply_view,
    facets,
    keys_csv,
)
from lib.ui import keys as ui  # noqa: E402
from lib.ui.actions import action_button  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402
from lib.usage.periods import preset_range  # noqa: E402

USAGE_RANGES = ["7d", "30d", "90d"]

rt = runtime()
now = utcnow()
today = now.date()

st.title("Virtual keys")
ui.show_results()

top = st.columns([4, 1], vertical_alignment="center")
reload = top[1].button("Reload from LiteLLM", key="keys_reload", icon=":material/sync:", width="stretch")
snap = ui.snapshot(rt, reload=reload)
top[0].caption(ui.snapshot_caption(snap, rt.settings.KEYS_CACHE_MINUTES))

prices = ui.model_prices(rt.engine)
model_choices = sorted(set(prices) | {m for ms in snap.keys["models"] for m in ms})


# -- create ------------------------------------------------------------------------------------------------------
with st.expander("Create a key", icon=":material/add:"):
    with st.form("keys_create"):
        c = st.columns(3)
        alias = c[0].text_input("Alias", key="keys_new_alias", placeholder="e.g. alice-laptop")
        owner = c[1].text_input("Owner (LiteLLM user id)", key="keys_new_owner")
        team = c[2].text_input("Team id", key="keys_new_team")
        access = st.radio(
            "Model access",
            ["pick"] + list(plans.POWER_LEVELS),
            format_func=lambda a: "Pick models" if a == "pick" else ui.power_level_label(a),
            horizontal=True,
            key="keys_new_access",
        )
        picked = st.multiselect(
            "Models (with Pick models; none picked = every model)", model_choices, key="keys_new_models"
        )
        limits = ui.limits_inputs("keys_new")
        days = st.number_input(
            "Expires in (days)", min_value=1, max_value=3650, value=None, key="keys_new_days", help="Empty: never"
        )
        create = action_button(user, "keys.create", "Create key", form=True, type="primary")
    if create:
        level = None if access == "pick" else access
        ui.apply(
            rt,
            user,
            lambda: plans.plan_create(
                plans.KeySettings.of(
                    alias=alias,
                    owner=owner,
                    team=team,
                    models=picked if level is None else plans.models_for_power_level(level, prices),
                    **limits,
                ),
                days,
                power_level=level,
            ),
        )

# -- the view ----------------------------------------------------------------------------------------------------
usage_range = st.segmented_control("Usage over", USAGE_RANGES, default="30d", key="keys_range", required=True)
start, end = preset_range(usage_range, today)
with st.spinner("Joining the keys with their usage…"):
    frame = with_usage(snap.keys, key_usage(rt.store, start, end))
choices = facets(frame)
c = st.columns([3, 2, 2, 2])
search = c[0].text_input("Search", key="keys_search", placeholder="alias, key, hash, owner, e-mail, team")
teams = c[1].multiselect("Team", choices["teams"], key="keys_teams", placeholder="All teams")
owners = c[2].multiselect("Owner", choices["owners"], key="keys_owners", placeholder="All owners")
statuses = c[3].multiselect("Status", choices["statuses"], key="keys_statuses", placeholder="All but deleted")
c = st.columns([2, 2, 2, 2, 1.3], vertical_alignment="bottom")
over = c[0].toggle(f"Over {BUDGET_ALERT_PCT:.0f}% of budget", key="keys_over")
expiring = c[1].toggle(f"Expiring in {EXPIRING_DAYS} days", key="keys_expiring")
idle = c[2].toggle(f"Idle {IDLE_DAYS} days", key="keys_idle", help=f"No request in {IDLE_DAYS} days")
sort_by = c[3].selectbox("Sort by", list(SORTS), format_func=SORTS.get, key="keys_sort")
descending = c[4].toggle("Descending", value=True, key="keys_desc")
view = KeyView(search, tuple(teams), tuple(owners), tuple(statuses), over, expiring, idle, sort_by, descending)
shown = apply_view(frame, view, now)

st.caption(
    f"{len(shown):,} of {len(frame):,} keys shown · requests, spend and success over {start:%d %b} – {end:%d %b %Y} "
    "(UTC days, from the usage store) · click a row to manage its key"
)
event = st.dataframe(
    ui.table_styled(ui.table_frame(shown, usage_range)),
    hide_index=True,
    column_config=ui.TABLE_CONFIG,
    key=ui.table_key(shown),
    on_select="rerun",
    selection_mode="single-row",
    width="stretch",
    placeholder=MISSING,
)
st.download_button(
    "Download CSV",
    lambda: keys_csv(shown),
    file_name=f"virtual-keys-{today.isoformat()}.csv",
    mime="text/csv",
    on_click="ignore",
    key="keys_csv",
    icon=":material/download:",
)

# -- the selected key --------------------------------------------------------------------------------------------
rows = event.selection.rows if event is not None else []
selected = shown.iloc[rows[0]] if rows else (shown.iloc[0] if len(shown) == 1 else None)
if selected is None:
    st.caption("Select a key in the table, or search down to one key, to manage it.")
    st.stop()

name = label(selected["alias"], selected["key_name"])
st.subheader(f"Key {markdown_literal(name)}")
st.caption(
    " · ".join(
        markdown_literal(x)
        for x in (
            f"status {selected['status']}",
            f"owner {selected['user_id']}" if isinstance(selected["user_id"], str) else "no owner",
            f"team {selected['team_id']}" if isinstance(selected["team_id"], str) else "no team",
            f"hash {selected['token']}",
        )
    )
)
st.page_link(
    "pages/usage.py",
    label="Usage of this key",
    icon=":material/monitoring:",
    query_params={"key": selected["token"], "range": usage_range},
)
if selected["status"] == "deleted":
    st.info("This key is deleted: LiteLLM refuses it, and it cannot be changed.", icon=":material/delete:")
    st.stop()

tag = selected["token"][:16]  # widgets of this key: another key's start from its own settings
if selected["blocked"]:
    if action_button(user, "keys.unblock", "Unblock key", key="keys_unblock", icon=":material/lock_open:"):
        ui.apply(rt, user, lambda: plans.plan_unblock(selected))
elif action_button(user, "keys.block", "Block key", key="keys_block", icon=":material/block:"):
    ui.apply(rt, user, lambda: plans.plan_block(selected))

edit_tab, replace_tab, delete_tab = st.tabs(["Edit", "Replace", "Delete"])
with edit_tab:
    current = plans.KeySettings.of_key(selected)
    with st.form(f"keys_edit_{tag}"):
        new_alias = st.text_input("Alias", value=current.alias or "", key=f"keys_edit_alias_{tag}")
        new_models = st.multiselect(
            "Models (none = every model)",
            sorted(set(model_choices) | set(current.models)),
            default=list(current.models),
            key=f"keys_edit_models_{tag}",
        )
        new_limits = ui.limits_inputs(f"keys_edit_{tag}", current)
        expiry = ui.expiry_input(f"keys_edit_{tag}", selected["expires"])
        save = action_button(user, "keys.update", "Save changes", form=True, type="primary")
    if save:
        ui.apply(
            rt,
            user,
            lambda: plans.plan_update(
                selected,
                plans.KeySettings.of(
                    known_alias=current.alias,
                    alias=new_alias,
                    owner=current.owner,
                    team=current.team,
                    models=new_models,
                    **new_limits,
                ),
                expiry,
            ),
        )

with replace_tab:
    st.caption(
        "Replace = a new key with the same owner, team, models, budgets, limits and expiry, then this key blocked "
        "(LiteLLM's own regenerate is enterprise-only). The new key's plaintext is shown once; its spend starts "
        "at zero and its usage is recorded under the new key."
    )
    replacement = st.text_input(
        "Alias of the new key", value=plans.replacement_alias(selected, today), key=f"keys_replace_alias_{tag}"
    )
    if action_button(user, "keys.replace", "Replace key (copy, then block this one)", key="keys_replace"):
        ui.apply(rt, user, lambda: plans.plan_replace(selected, replacement, now))

with delete_tab:
    word = plans.confirmation_word(selected)
    st.warning(
        "Deleting a key stops every request made with it, for good. Its usage stays in the usage data.",
        icon=":material/warning:",
    )
    typed = st.text_input(f"Type {markdown_literal(word)} to confirm", key=f"keys_delete_confirm_{tag}")
    if action_button(user, "keys.delete", "Delete key", key="keys_delete", type="primary", icon=":material/delete:"):
        ui.apply(rt, user, lambda: plans.plan_delete(selected, typed))
