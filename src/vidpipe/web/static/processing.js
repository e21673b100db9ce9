// Stage 2: live progress from the server's event stream; stops at READY or ERROR.
"use strict";
(function () {
  const section = document.getElementById("progress");
  const id = section.dataset.manifest;
  const words = window.STEP_WORDS;
  let jobId = section.dataset.job;

  const strip = document.getElementById("found");
  const shown = new Map(); // thumbnail URL -> its <li>, so a view already shown is not redrawn

  function showFound(found) {
    if (!found.length) return;
    const wanted = new Set(found.map((f) => f.thumbnail_url));
    strip.querySelectorAll(".found-empty").forEach((el) => el.remove());
    for (const [url, li] of shown) if (!wanted.has(url)) { li.remove(); shown.delete(url); }
    for (const f of found) {
      if (shown.has(f.thumbnail_url)) continue;
      const li = document.createElement("li");
      li.className = `found ${f.kind}`;
      const img = document.createElement("img");
      img.src = f.thumbnail_url; img.alt = `${f.kind}: ${f.label}`; img.width = 72; img.height = 72;
      const caption = document.createElement("span");
      caption.textContent = f.label;
      li.append(img, caption);
      strip.append(li);
      shown.set(f.thumbnail_url, li);
    }
    strip.scrollLeft = strip.scrollWidth; // the newest in view
  }

  function show(p) {
    if (p.job_id) jobId = p.job_id;
    showFound(p.found || []);
    const photos = document.getElementById("photos");
    photos.max = Math.max(p.uploads_total, 1);
    photos.value = p.uploads_processed;
    document.getElementById("photos-text").textContent = `${p.uploads_processed} / ${p.uploads_total || "?"}`;
    const described = document.getElementById("described");
    described.max = Math.max(p.assets_total, 1);
    described.value = p.assets_described;
    document.getElementById("described-text").textContent = `${p.assets_described} / ${p.assets_total || "?"}`;
    for (const step of p.steps) {
      const li = document.querySelector(`#steps li[data-step="${step.name}"]`);
      li.className = step.state;
      li.querySelector(".seconds").textContent = step.seconds === null ? "" : `${step.seconds.toFixed(2)} s`;
    }
    document.querySelectorAll(".photo").forEach((card) => {
      if (Number(card.dataset.position) <= p.uploads_processed) card.querySelector(".tick").textContent = "looked at";
    });
    const words_el = document.getElementById("step-words");
    if (p.status === "READY") words_el.textContent = "Done: the registry is ready to review.";
    else if (p.status === "ERROR") words_el.textContent = "The run stopped.";
    else if (p.step) words_el.textContent = `${words[p.step] || p.step}…`;
    const error = document.getElementById("error");
    error.hidden = !p.error;
    error.textContent = p.error ? `The run ended: ${p.error}. The registry is as it was before this run.` : "";
    if (p.status === "READY" || p.status === "ERROR") {
      document.getElementById("cancel").hidden = true;
      document.getElementById("to-review").hidden = false;
    }
  }

  const source = new EventSource(`/api/manifests/${id}/events`);
  source.addEventListener("progress", (e) => show(JSON.parse(e.data)));
  source.addEventListener("end", () => source.close());
  source.onerror = () => { source.close(); setTimeout(() => window.location.reload(), 2000); };

  document.getElementById("cancel").addEventListener("click", async () => {
    if (!jobId) return;
    try { await api("POST", `/api/jobs/${jobId}/cancel`); toast("Stopping the run…"); } catch (err) { toast(err.message, true); }
  });
})();
