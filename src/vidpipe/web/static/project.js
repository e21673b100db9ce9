// Projects: create one on a READY registry; add scenes; upload clips to a scene, analyse each, and
// watch every analysis live in its row (progress, then score and verdict, or the reason it stopped).
"use strict";
(function () {
  const create = document.getElementById("project-form");
  if (create) {
    create.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = document.getElementById("project-name").value.trim();
      const manifest = document.getElementById("project-manifest").value;
      try {
        const answer = await api("POST", "/api/projects", { name, manifest_id: manifest });
        window.location.href = `/projects/${answer.data.id}`;
      } catch (err) { toast(err.message, true); }
    });
  }

  const scenes = document.getElementById("scenes");
  if (!scenes) return;
  const project = scenes.dataset.project;

  const sceneForm = document.getElementById("scene-form");
  sceneForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const expect = [...sceneForm.querySelectorAll('input[name="expect"]:checked')].map((box) => box.value);
    const description = document.getElementById("scene-description").value.trim();
    try {
      await api("POST", `/api/projects/${project}/scenes`, {
        index: Number(document.getElementById("scene-index").value),
        description: description || null,
        expect,
      });
      window.location.reload();
    } catch (err) { toast(err.message, true); }
  });

  function showRow(row, clip, job) {
    const state = analysisState(clip, job);
    row.dataset.status = clip.status;
    const badge = row.querySelector(".status");
    badge.textContent = clip.status;
    badge.className = `status status-${clip.status.toLowerCase()}`;
    const live = row.querySelector(".live");
    live.hidden = clip.status !== "ANALYZING";
    showFrames(live.querySelector("progress"), live.querySelector(".count"), state);
    const line = row.querySelector(".step-line");
    const a = clip.analysis;
    line.textContent = clip.status === "ANALYZED" && a ? `analysed ${a.created_at.slice(0, 16).replace("T", " ")}` : state.words;
    line.className = `step-line ${clip.status === "ERROR" ? "error" : "muted"}`;
    row.querySelector(".score").textContent = a ? `${a.continuity_score.toFixed(1)}/10` : "–";
    const verdict = row.querySelector(".verdict");
    verdict.textContent = "";
    if (a) {
      const gate = document.createElement("span");
      gate.className = `gate gate-${a.gate}`;
      gate.textContent = a.gate.toUpperCase();
      verdict.append(gate);
    }
    row.querySelector(".analyse").hidden = !(clip.status === "NEW" || clip.status === "ERROR");
  }

  // Starts the row's analysis (no jobId) or follows the one running, to its end.
  async function analyse(row, jobId) {
    const id = row.dataset.clip;
    const button = row.querySelector(".analyse");
    button.disabled = true;
    try {
      if (jobId === null) {
        jobId = await startAnalysis(id);
        row.dataset.job = jobId;
      }
      const clip = await watchAnalysis(id, jobId, (c, j) => showRow(row, c, j));
      if (clip.status === "ANALYZED") toast(`${clip.filename}: analysed, ${clip.analysis.gate.toUpperCase()}`);
      else if (clip.status === "ERROR") toast(`${clip.filename}: the analysis stopped`, true);
      return clip;
    } catch (err) {
      toast(`${row.querySelector(".report-link").textContent}: ${err.message}`, true);
      return null;
    } finally { button.disabled = false; }
  }

  function wire(row) {
    row.querySelector(".analyse").addEventListener("click", () => analyse(row, null));
  }

  const template = document.getElementById("clip-row");
  function addRow(section, clip) {
    const row = template.content.firstElementChild.cloneNode(true);
    row.dataset.clip = clip.id;
    const link = row.querySelector(".report-link");
    link.href = `/clips/${clip.id}`;
    link.textContent = clip.filename;
    row.querySelector(".report").href = `/clips/${clip.id}`;
    const seconds = clip.duration_seconds ? ` · ${clip.duration_seconds.toFixed(1)} s` : "";
    row.querySelector(".facts").textContent = `${clip.width}×${clip.height}${seconds}`;
    section.querySelector("table.clips tbody").append(row);
    section.querySelector(".no-clips").hidden = true;
    wire(row);
    return row;
  }

  document.querySelectorAll(".clip-upload").forEach((form) => form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const section = form.closest(".scene");
    const input = form.querySelector(".clip-file");
    const note = section.querySelector(".upload-note");
    const file = input.files[0];
    if (!file) return;
    const send = form.querySelector('button[type="submit"]');
    send.disabled = true;
    note.className = "upload-note muted";
    note.textContent = `Uploading ${file.name}…`;
    const body = new FormData();
    body.append("file", file, file.name);
    let clip;
    try {
      clip = (await api("POST", `/api/scenes/${form.dataset.scene}/clips`, body)).data;
    } catch (err) {
      note.className = "upload-note error";
      note.setAttribute("role", "alert");
      note.textContent = `${file.name}: ${err.message}`;
      send.disabled = false;
      return;
    }
    note.className = "upload-note muted";
    note.removeAttribute("role");
    note.textContent = `${file.name}: uploaded; analysing it against the registry.`;
    input.value = "";
    send.disabled = false;
    const done = await analyse(addRow(section, clip), null);
    if (done && done.status === "ANALYZED") {
      note.textContent = `${file.name}: analysed, ${done.analysis.continuity_score.toFixed(1)}/10, ${done.analysis.gate.toUpperCase()}.`;
    } else {
      note.textContent = `${file.name}: uploaded; the analysis did not finish (see its row).`;
    }
  }));

  scenes.querySelectorAll("tr.clip").forEach((row) => {
    wire(row);
    if (row.dataset.status === "ANALYZING") analyse(row, row.dataset.job); // "" when its job is unknown
  });
})();
