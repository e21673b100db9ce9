// A clip's analysis: start it, and watch it (the clip and its job, every half second) until the clip is
// ANALYZED or ERROR. The project page uses these for each clip row; the report page for its own clip.
"use strict";

const CLIP_STEPS = window.CLIP_STEP_WORDS || {};

async function startAnalysis(clipId) {
  return (await api("POST", `/api/clips/${clipId}/analyze`)).data.job_id;
}

// Calls show(clip, job) after each look until the clip is no longer ANALYZING; resolves with the clip.
function watchAnalysis(clipId, jobId, show) {
  return new Promise((resolve) => {
    async function look() {
      let clip, job = null;
      try {
        const answers = await Promise.all([
          api("GET", `/api/clips/${clipId}`),
          jobId ? api("GET", `/api/jobs/${jobId}`) : Promise.resolve(null),
        ]);
        clip = answers[0].data;
        job = answers[1] ? answers[1].data : null;
      } catch (err) {
        toast(`Could not read the analysis: ${err.message}`, true);
        setTimeout(look, 2000);
        return;
      }
      show(clip, job);
      if (clip.status === "ANALYZING") setTimeout(look, 500);
      else resolve(clip);
    }
    look();
  });
}

// What the analysis is doing, in words, and how far it is: {words, done, total}.
function analysisState(clip, job) {
  const progress = (job && job.progress) || {};
  const total = progress.frames_total || 0;
  const done = progress.frames_done || 0;
  let words = "";
  if (clip.status === "ERROR") words = `The analysis stopped: ${clip.error || (job && job.error) || "no reason given"}`;
  else if (clip.status === "ANALYZED") words = "Done";
  else if (clip.status === "NEW") words = job && job.status === "CANCELLED" ? "Cancelled" : "Not analysed yet";
  else if (!job || !job.step) words = "Waiting for the analysis to start…";
  else words = `${CLIP_STEPS[job.step] || job.step}…`;
  return { words, done, total };
}

// Fills a progress bar and its "3 / 5 frames" count.
function showFrames(bar, count, state) {
  bar.max = Math.max(state.total, 1);
  bar.value = Math.min(state.done, bar.max);
  count.textContent = `${state.done} / ${state.total || "?"} frames`;
}

// The report page: the state of a clip not analysed yet (or being analysed again), and its Analyse button.
(function () {
  const section = document.getElementById("clip-state");
  if (!section) return;
  const id = section.dataset.clip;
  const badge = section.querySelector(".status");
  const live = section.querySelector(".live");
  const line = section.querySelector(".step-line");

  function show(clip, job) {
    const state = analysisState(clip, job);
    badge.textContent = clip.status;
    badge.className = `status status-${clip.status.toLowerCase()}`;
    live.hidden = clip.status !== "ANALYZING";
    showFrames(live.querySelector("progress"), live.querySelector(".count"), state);
    line.textContent = state.words;
    line.classList.toggle("error", clip.status === "ERROR");
  }

  async function watch(jobId) {
    section.hidden = false;
    document.querySelectorAll(".analyse").forEach((b) => { b.disabled = true; });
    const clip = await watchAnalysis(id, jobId, show);
    if (clip.status === "ANALYZED") window.location.reload();
    document.querySelectorAll(".analyse").forEach((b) => { b.disabled = false; });
  }

  document.querySelectorAll(".analyse").forEach((button) => button.addEventListener("click", async () => {
    try {
      watch(await startAnalysis(id));
    } catch (err) { toast(err.message, true); }
  }));
  if (section.dataset.status === "ANALYZING") watch(section.dataset.job);
})();
