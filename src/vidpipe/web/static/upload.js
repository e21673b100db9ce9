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
      const name = document.getElementById("manifest-name").value;
      if (id && name !== form.dataset.name) {
        await api("PATCH", `/api/manifests/${id}`, { name });
        form.dataset.name = name;
      }
      if (!id) {
        id = (await api("POST", "/api/manifests", { name })).data.id;
        form.dataset.name = name;
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
        // Accepted and duplicate photos leave the list to send (they are in the manifest now);
        // refused ones stay, marked with their reason, for the user to remove or replace.
        const sent = chosen.slice();
        let bad = 0, accepted = 0;
        answer.files.forEach((result, i) => {
          const entry = sent[i];
          const line = document.createElement("p");
          if (result.outcome === "refused") {
            bad += 1;
            entry.card.classList.add("refused");
            line.className = "error";
            line.textContent = `${result.file}: ${result.reason}`;
          } else {
            accepted += result.outcome === "accepted" ? 1 : 0;
            chosen.splice(chosen.indexOf(entry), 1);
            entry.card.remove();
            line.textContent = result.outcome === "accepted"
              ? `${result.file}: uploaded as ${result.type}${result.note ? ` (${result.note})` : ""}`
              : `${result.file}: ${result.reason}`;
          }
          messages.appendChild(line);
        });
        if (bad) {
          send.disabled = false;
          toast(`${accepted} photo(s) uploaded, ${bad} refused: remove the refused ones (or add others), then press the button again`, true);
          return;
        }
      }
      await api("POST", `/api/manifests/${id}/process`);
      window.location.href = `/manifests/${id}/processing`;
    } catch (err) {
      toast(err.message, true);
      send.disabled = false;
    }
  });
})();
