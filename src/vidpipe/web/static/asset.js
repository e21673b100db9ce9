// The asset page: split chosen views off, choose a primary view, remove a view taken from a clip or
// given by the user, or swap in a new photo.
"use strict";
(function () {
  const split = document.getElementById("split-form");
  const id = split.dataset.asset;

  split.addEventListener("submit", async (e) => {
    e.preventDefault();
    const positions = [...split.querySelectorAll(".pick:checked")].map((box) => Number(box.value));
    if (!positions.length) { toast("Choose the views to split off", true); return; }
    const name = document.getElementById("split-name").value.trim();
    try {
      const answer = await api("POST", `/api/assets/${id}/split`, { positions, name: name || null });
      window.location.href = `/assets/${answer.data.new_asset_id}`;
    } catch (err) { toast(err.message, true); }
  });

  document.querySelectorAll(".choose").forEach((button) => button.addEventListener("click", async () => {
    try {
      await api("POST", `/api/assets/${id}/reference/choose`, { reference_id: button.dataset.reference });
      window.location.reload();
    } catch (err) { toast(err.message, true); }
  }));

  document.querySelectorAll(".remove-ref").forEach((button) => button.addEventListener("click", async () => {
    if (!confirm(`Remove view #${button.dataset.position} from this asset?`)) return;
    try {
      await api("DELETE", `/api/assets/${id}/references/${button.dataset.reference}`);
      window.location.reload();
    } catch (err) { toast(err.message, true); }
  }));

  const swap = document.getElementById("swap-form");
  swap.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = new FormData();
    body.append("file", document.getElementById("swap-file").files[0]);
    body.append("force", document.getElementById("swap-force").checked ? "true" : "false");
    try {
      const answer = await api("POST", `/api/assets/${id}/reference`, body);
      (answer.data.warnings || []).forEach((w) => toast(w, true));
      window.location.reload();
    } catch (err) { toast(err.message, true); }
  });
})();
