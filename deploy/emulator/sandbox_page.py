"""The sandbox page: emulated channels shown as Discord would, with a member picker.

The page (HTML, CSS, JS) lives in this module as a string so it ships with the package without
package-data configuration; its lines follow the page's own layout, not the 100-column limit.
"""
# ruff: noqa: E501

from __future__ import annotations

from aiohttp import web


async def handler(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/sandbox")


PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Muster sandbox (Discord emulator)</title>
<style>
*{box-sizing:border-box}body{margin:0;font:15px/1.4 "gg sans","Noto Sans",Helvetica,Arial,sans-serif;
background:#313338;color:#dbdee1;display:grid;grid-template-columns:240px 1fr;height:100vh}
nav{background:#2b2d31;padding:12px;overflow:auto}nav h2{font-size:12px;text-transform:uppercase;color:#949ba4}
nav a{display:block;color:#949ba4;padding:6px 8px;border-radius:4px;cursor:pointer;text-decoration:none}
nav a.on,nav a:hover{background:#404249;color:#fff}main{display:flex;flex-direction:column;height:100vh}
header{padding:10px 16px;border-bottom:1px solid #1f2023;display:flex;gap:12px;align-items:center}
#log{flex:1;overflow:auto;padding:16px}.msg{display:flex;gap:12px;margin:0 0 14px}
.av{width:40px;height:40px;border-radius:50%;background:#5865f2;display:flex;align-items:center;
justify-content:center;color:#fff;font-weight:bold;flex:none}.name{font-weight:600;color:#f2f3f5}
.tag{background:#5865f2;color:#fff;font-size:10px;padding:1px 4px;border-radius:3px;margin-left:4px}
.time,.edited,.note{color:#949ba4;font-size:12px;margin-left:6px}.mention{background:#3c4270;color:#c9cdfb;padding:0 2px;border-radius:3px}
.embed{border-left:4px solid #1e1f22;background:#2b2d31;border-radius:4px;padding:8px 12px;margin-top:4px;max-width:520px}
.embed .t{font-weight:600;color:#fff}.fields{display:flex;flex-wrap:wrap;gap:8px}.field{min-width:150px;flex:1}
.field b{display:block;font-size:13px}.footer{font-size:12px;color:#949ba4;margin-top:6px}
.row{display:flex;gap:8px;margin-top:6px;flex-wrap:wrap}button.c{border:0;border-radius:3px;padding:6px 14px;color:#fff;cursor:pointer}
.s1{background:#5865f2}.s2{background:#4e5058}.s3{background:#248046}.s4{background:#da373c}.s5{background:#4e5058}
button.c:disabled{opacity:.5;cursor:not-allowed}#status{color:#f0b232;font-size:13px}
footer{padding:12px 16px;display:flex;gap:8px}footer input{flex:1;background:#383a40;border:0;border-radius:6px;padding:10px;color:#dbdee1}
select{background:#1e1f22;color:#dbdee1;border:0;padding:6px;border-radius:4px}
dialog{background:#313338;color:#dbdee1;border:0;border-radius:8px;min-width:380px}
dialog input,dialog textarea{width:100%;background:#1e1f22;border:0;color:#dbdee1;padding:8px;border-radius:4px;margin:4px 0 10px}
</style></head><body>
<nav><h2 id="guild">Guild</h2><div id="channels"></div><h2>Direct messages</h2><a id="dmlink">DMs of the member</a></nav>
<main><header><span>Act as</span><select id="who" data-testid="member-picker"></select>
<b id="title"># channel</b><span id="status" role="status"></span></header>
<div id="log" data-testid="messages"></div>
<footer><input id="say" placeholder="Message, or /command option:value …" list="cmds"><datalist id="cmds"></datalist></footer></main>
<dialog id="modal"><form method="dialog" id="modalform"></form></dialog>
<script>
const E = "/_emulator"; let state = null, channel = null, dmUser = null, members = {};
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
async function api(path, body) {
  const r = await fetch(E + path, body === undefined ? {} : {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  return r.json();
}
function who() { return $("#who").value; }
function displayName(uid, fallback) {
  const m = members[uid]; if (!m) return fallback ? (fallback.global_name || fallback.username) : "Unknown User";
  return m.nick || m.user.global_name || m.user.username;
}
function md(text) {
  let s = esc(text);
  s = s.replace(/&lt;@!?(\d+)&gt;/g, (_, id) => `<span class="mention">@${esc(displayName(id))}</span>`);
  s = s.replace(/&lt;t:(\d+)(?::([tTdDfFR]))?&gt;/g, (_, t, f) => {
    const d = new Date(Number(t) * 1000);
    if (f === "R") { const m = Math.round((d - Date.now()) / 60000); return m >= 0 ? `in ${m} minutes` : `${-m} minutes ago`; }
    return d.toLocaleString();
  });
  return s.replace(/\*\*(.+?)\*\*/g, "<b>$1</b>").replace(/\*(.+?)\*/g, "<i>$1</i>").replace(/`(.+?)`/g, "<code>$1</code>").replace(/\n/g, "<br>");
}
function embedHtml(e) {
  const color = e.color ? "#" + e.color.toString(16).padStart(6, "0") : "#1e1f22";
  const fields = (e.fields || []).map((f) => `<div class="field"><b>${md(f.name)}</b>${md(f.value)}</div>`).join("");
  return `<div class="embed" style="border-color:${color}">${e.author ? `<div>${esc(e.author.name)}</div>` : ""}
    ${e.title ? `<div class="t">${md(e.title)}</div>` : ""}${e.description ? `<div>${md(e.description)}</div>` : ""}
    <div class="fields">${fields}</div>${e.footer ? `<div class="footer">${esc(e.footer.text)}</div>` : ""}</div>`;
}
function componentsHtml(m, comps) {
  return (comps || []).map((c) => {
    if (c.type === 1) return `<div class="row">${componentsHtml(m, c.components)}</div>`;
    if (c.type === 2 && c.style === 5) return `<a class="c" href="${esc(c.url)}" target="_blank">${esc(c.label)}</a>`;
    if (c.type === 2) return `<button class="c s${c.style}" data-msg="${m.id}" data-cid="${esc(c.custom_id)}" ${c.disabled ? "disabled" : ""}>${esc(c.emoji?.name || "")} ${esc(c.label || "")}</button>`;
    if (c.type === 3) return `<select data-msg="${m.id}" data-cid="${esc(c.custom_id)}" ${c.disabled ? "disabled" : ""}><option value="">${esc(c.placeholder || "Choose")}</option>${(c.options || []).map((o) => `<option value="${esc(o.value)}">${esc(o.label)}</option>`).join("")}</select>`;
    if (c.type === 9 || c.type === 17) return `<div>${componentsHtml(m, c.components)}${c.accessory ? componentsHtml(m, [c.accessory]) : ""}</div>`;
    if (c.type === 10) return `<div>${md(c.content)}</div>`;
    return "";
  }).join("");
}
function messageHtml(m) {
  const author = m.author, bot = author.bot ? '<span class="tag">APP</span>' : "";
  const name = author.bot ? author.username : displayName(author.id, author);
  const loading = m.flags & 128 ? `<i>${esc(author.username)} is thinking…</i>` : "";
  const eph = m.flags & 64 ? '<span class="note">Only you can see this</span>' : "";
  return `<div class="msg" data-id="${m.id}"><div class="av">${esc(name[0] || "?").toUpperCase()}</div><div>
    <span class="name">${esc(name)}</span>${bot}<span class="time">${new Date(m.timestamp).toLocaleTimeString()}</span>${eph}
    <div>${loading}${md(m.content)}${m.edited_timestamp ? '<span class="edited">(edited)</span>' : ""}</div>
    ${(m.embeds || []).map(embedHtml).join("")}${componentsHtml(m, m.components)}</div></div>`;
}
async function render() {
  const path = dmUser ? `/users/${who()}/dms` : `/channels/${channel}/messages?as_user=${who()}`;
  if (!dmUser && !channel) return;
  const msgs = await api(path);
  const log = $("#log"); const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
  log.innerHTML = msgs.map(messageHtml).join("");
  if (atEnd) log.scrollTop = log.scrollHeight;
}
async function answered(res) {
  if (res.error) { $("#status").textContent = res.error; return; }
  if (res.response_type === 9) return openModal(res);
  $("#status").textContent = res.failed || res.response_type === null ? "This interaction failed" : "";
  render();
}
function openModal(res) {
  const modal = res.response, form = $("#modalform"); const inputs = [];
  const walk = (cs) => cs.forEach((c) => { if (c.type === 4) inputs.push(c); if (c.components) walk(c.components); if (c.component) walk([c.component]); });
  walk(modal.components);
  form.innerHTML = `<h3>${esc(modal.title)}</h3>` + inputs.map((i) => `<label>${esc(i.label || i.custom_id)}${i.style === 2 ? `<textarea name="${esc(i.custom_id)}">${esc(i.value || "")}</textarea>` : `<input name="${esc(i.custom_id)}" value="${esc(i.value || "")}">`}</label>`).join("") + '<button class="c s1" value="ok">Submit</button> <button class="c s2" value="cancel">Cancel</button>';
  $("#modal").onclose = async () => {
    if ($("#modal").returnValue !== "ok") return;
    const values = Object.fromEntries(new FormData(form).entries());
    answered(await api(`/interactions/${res.id}/modal`, {user_id: who(), values}));
  };
  $("#modal").showModal();
}
document.addEventListener("click", async (ev) => {
  const b = ev.target.closest("button.c[data-cid]"); if (!b || b.disabled) return;
  $("#status").textContent = "…";
  answered(await api("/interactions/click", {user_id: who(), message_id: b.dataset.msg, custom_id: b.dataset.cid}));
});
document.addEventListener("change", async (ev) => {
  const s = ev.target.closest("select[data-cid]"); if (!s || !s.value) return;
  answered(await api("/interactions/click", {user_id: who(), message_id: s.dataset.msg, custom_id: s.dataset.cid, values: [s.value]}));
});
$("#say").addEventListener("keydown", async (ev) => {
  if (ev.key !== "Enter" || !ev.target.value.trim()) return;
  const text = ev.target.value.trim(); ev.target.value = "";
  if (text.startsWith("/")) {
    const [name, ...rest] = text.slice(1).split(/\s+(?=\w+:)/); const options = {};
    rest.forEach((p) => { const i = p.indexOf(":"); const v = p.slice(i + 1); options[p.slice(0, i)] = /^-?\d+$/.test(v) ? Number(v) : v; });
    answered(await api("/interactions/command", {user_id: who(), channel_id: channel, name: name.trim(), options}));
  } else if (channel) { await api(`/channels/${channel}/messages`, {user_id: who(), content: text}); render(); }
});
function pick(cid) {
  channel = cid; dmUser = null;
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("on", a.dataset.cid === cid));
  const c = state.guilds[0].channels.find((c) => c.id === cid); $("#title").textContent = "# " + (c ? c.name : "");
  render();
}
async function load() {
  state = await api("/state"); const g = state.guilds[0]; if (!g) { $("#guild").textContent = "No guild yet"; return; }
  $("#guild").textContent = g.name; members = Object.fromEntries(g.members.map((m) => [m.user.id, m]));
  $("#channels").innerHTML = g.channels.filter((c) => c.type === 0).map((c) => `<a data-cid="${c.id}"># ${esc(c.name)}</a>`).join("");
  document.querySelectorAll("#channels a").forEach((a) => a.onclick = () => pick(a.dataset.cid));
  const keep = who();
  $("#who").innerHTML = g.members.filter((m) => !m.user.bot).map((m) => `<option value="${m.user.id}">${esc(displayName(m.user.id))} (@${esc(m.user.username)})</option>`).join("");
  if (keep) $("#who").value = keep;
  const cmds = await api("/commands"); $("#cmds").innerHTML = cmds.map((c) => `<option value="/${esc(c.name)} ">`).join("");
  if (!channel && g.channels.length) pick(g.channels.find((c) => c.type === 0).id);
}
$("#who").onchange = render;
$("#dmlink").onclick = () => { dmUser = who(); $("#title").textContent = "DMs of " + displayName(dmUser); render(); };
let pending = null; const soon = (fn) => { clearTimeout(pending); pending = setTimeout(fn, 50); };
function live() {
  const es = new EventSource(E + "/events");
  es.onmessage = (ev) => { const n = JSON.parse(ev.data);
    if (n.t.startsWith("GUILD_") || n.t.startsWith("CHANNEL_")) soon(load); else if (!n.channel_id || n.channel_id === channel || dmUser) soon(render); };
  es.onerror = () => { es.close(); setInterval(render, 2000); };
}
load().then(live);
</script></body></html>
"""
