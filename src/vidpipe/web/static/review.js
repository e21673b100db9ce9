// Stage 3: edit in place, merge, re-describe, delete, process again; every change goes to the API.
"use strict";
(function () {
  const grid = document.getElementById("assets");
  const manifest = grid.dataset.manifest;
  const merge = document.getElementById("merge");
  const picked = [];

  grid.querySelectorAll(".asset").forEach((card) => {
    const id = card.dataset.asset;
    card.querySelectorAll("[data-field]").forEach((field) => field.addEventListener("change", async () => {
      try {
        await api("PATCH", `/api/assets/${id}`, { [field.dataset.field]: field.value });
        toast(`${card.dataset.tag}: saved`);
      } catch (err) { toast(err.message, true); }
    }));
    card.querySelector(".pick").addEventListener("change", (e) => {
      if (e.target.checked) picked.push(e.target.value); else picked.splice(picked.indexOf(e.target.value), 1);
      merge.disabled = picked.length < 2;
    });
    card.querySelector(".redescribe").addEventListener("click", async () => {
      try { await api("POST", `/api/assets/${id}/reprocess`); window.location.reload(); } catch (err) { toast(err.message, true); }
    });
    const del = card.querySelector(".delete");
    if (del) del.addEventListener("click", async () => {
      if (!confirm(`Delete ${card.dataset.tag}? Later runs will leave it out.`)) return;
      try { await api("DELETE", `/api/assets/${id}`); card.remove(); } catch (err) { toast(err.message, true); }
    });
  });

  merge.addEventListener("click", async () => {
    try {
      const answer = await api("POST", `/api/manifests/${manifest}/merge`, { keep: picked[0], others: picked.slice(1) });
      toast(`merged ${answer.data.merged.join(", ")} into ${answer.data.kept}`);
      window.location.reload();
    } catch (err) { toast(err.message, true); }
  });

  document.getElementById("filter").addEventListener("input", (e) => {
    const words = e.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    grid.querySelectorAll(".asset").forEach((card) => {
      card.hidden = !words.every((w) => card.dataset.text.includes(w));
    });
  });

  document.getElementById("photo-search").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = document.getElementById("photo-query").files[0];
    if (!file) { toast("Choose a photo to look for", true); return; }
    const body = new FormData();
    body.append("file", file, file.name);
    try {
      const hits = (await api("POST", `/api/manifests/${manifest}/search/image`, body)).data;
      const list = document.getElementById("photo-results");
      list.textContent = "";
      if (!hits.length) {
        const li = document.createElement("li");
        li.className = "muted";
        li.textContent = "No asset of this manifest looks like that photo.";
        list.appendChild(li);
      }
      for (const hit of hits.slice(0, 5)) {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = `/assets/${hit.asset.id}`;
        a.textContent = `${hit.asset.manifest_tag} ${hit.asset.name} (${hit.score.toFixed(2)})`;
        li.appendChild(a);
        list.appendChild(li);
      }
    } catch (err) { toast(err.message, true); }
  });

  document.getElementById("reprocess").addEventListener("click", async (e) => {
    try {
      await api("POST", `/api/manifests/${e.target.dataset.manifest}/reprocess`);
      window.location.href = `/manifests/${e.target.dataset.manifest}/processing`;
    } catch (err) { toast(err.message, true); }
  });
})();
