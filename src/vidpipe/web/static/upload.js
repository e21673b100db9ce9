// Stage 1: choose photos (drop or pick), name and type each, remove any, then upload and process.
"use strict";
(function () {
  const form = document.getElementById("upload-form");
  const drop = document.getElementById("drop");
  const input = document.getElementById("file-input");
  const pending = document.getElementById("pending");
  const template = document.getElementById("pending-card");
  const messages = document.getElementById("messages");
  const chosen = [];

  function add(files) {
    for (const file of files) {
      const card = template.content.firstElementChild.cloneNode(true);
      const entry = { file, card };
      card.querySelector("img").src = URL.createObjectURL(file);
      card.querySelector("img").alt = file.name;
      card.querySelector(".name").value = file.name.replace(/\.[^.]+$/, "");
      card.querySelector(".remove").addEventListener("click", () => {
        chosen.splice(chosen.indexOf(entry), 1);
        card.remove();
      });
      chosen.push(entry);
      pending.appendChild(card);
    }
  }

  input.addEventListener("change", () => { add(input.files); input.value = ""; });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); add(e.dataTransfer.files); });

  document.querySelectorAll(".remove-upload").forEach((button) => button.addEventListener("click", async () => {
    try {
      await api("DELETE", `/api/manifests/${form.dataset.manifest}/uploads/${button.dataset.upload}`);
      button.closest("li").remove();
    } catch (err) { toast(err.message, true); }
  }));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    messages.textContent = "";
    const send = document.getElementById("send");
    send.disabled = true;
    try {
      let id = form.dataset.manifest;
      if (!id) {
        id = (await api("POST", "/api/manifests", { name: document.getElementById("manifest-name").value })).data.id;
        form.dataset.manifest = id;
        history.replaceState(null, "", `/manifests/${id}/upload`);
      }
      if (chosen.length) {
        const body = new FormData();
        for (const entry of chosen) {
          body.append("files", entry.file, entry.file.name);
          body.append("names", entry.card.querySelector(".name").value);
          body.append("types", entry.card.querySelector(".type").value);
        }
        const answer = (await api("POST", `/api/manifests/${id}/uploads`, body)).data;
        let bad = 0;
        answer.files.forEach((result, i) => {
          const entry = chosen[i];
          if (result.outcome === "refused") {
            bad += 1;
            entry.card.classList.add("refused");
            const p = document.createElement("p");
            p.className = "error";
            p.textContent = `${result.file}: ${result.reason}`;
            messages.appendChild(p);
          } else if (result.outcome === "duplicate") {
            const p = document.createElement("p");
            p.textContent = `${result.file}: ${result.reason}`;
            messages.appendChild(p);
          }
        });
        if (bad) { send.disabled = false; toast(`${bad} photo(s) refused; remove them or try others`, true); chosen.splice(0).forEach((x) => { if (!x.card.classList.contains("refused")) x.card.remove(); }); return; }
      }
      await api("POST", `/api/manifests/${id}/process`);
      window.location.href = `/manifests/${id}/processing`;
    } catch (err) {
      toast(err.message, true);
      send.disabled = false;
    }
  });
})();
