// The enrollment page: enroll a person from 5 camera shots or uploaded photos (each refused shot says why), and list,
// rename and remove people. Talks to the /v1 API with the enroll key from the URL fragment, sent as a header.
'use strict';

(() => {
  const SHOTS = 5;
  const SHOT_INTERVAL_MS = 400;
  const params = new URLSearchParams(location.hash.slice(1));
  const collection = params.get('collection');
  const key = params.get('key');
  const $ = id => document.getElementById(id);
  const base = `/v1/collections/${encodeURIComponent(collection || '')}`;
  let stream = null;

  function status(text, state) {
    $('status').textContent = text;
    $('status').dataset.state = state || 'ok';
  }

  async function api(method, path, body, type) {
    const headers = { 'Authorization': `Bearer ${key}` };
    if (type) headers['Content-Type'] = type;
    let response;
    try {
      response = await fetch(base + path, { method, headers, body, cache: 'no-store', referrerPolicy: 'no-referrer' });
    } catch (e) {
      status('Server unreachable', 'offline');
      throw e;
    }
    let json = null;
    try { json = await response.json(); } catch (e) { /* not JSON */ }
    if (response.status === 401 || response.status === 403) {
      status('Key refused: ' + (json && json.error ? json.error : response.status), 'refused');
    }
    return { ok: response.ok, status: response.status, json };
  }

  function result(text, ok) {
    const li = document.createElement('li');
    li.textContent = text;
    li.dataset.ok = ok ? 'true' : 'false';
    $('results').appendChild(li);
  }

  async function enroll(name, blob, type, label) {
    const r = await api('POST', `/people/${encodeURIComponent(name)}/photos`, blob, type);
    result(r.ok ? `${label}: enrolled (${r.json.photos} photos)` : `${label}: refused — ${r.json && r.json.error ? r.json.error : 'HTTP ' + r.status}`, r.ok);
    return r.ok;
  }

  function nameOrSay() {
    const name = $('name').value.trim();
    if (!name) status('Type a name first', 'error');
    return name;
  }

  async function refresh() {
    const r = await api('GET', '/people');
    if (!r.ok) {
      if (r.status !== 401 && r.status !== 403) status(r.json && r.json.error ? r.json.error : `HTTP ${r.status}`, 'error');
      return;
    }
    const rows = $('people');
    rows.replaceChildren();
    for (const p of r.json.people) {
      const tr = document.createElement('tr');
      tr.dataset.person = p.name;
      const name = document.createElement('td');
      name.textContent = p.name;
      const photos = document.createElement('td');
      photos.textContent = String(p.photos);
      const actions = document.createElement('td');
      const rename = document.createElement('button');
      rename.textContent = 'Rename';
      rename.dataset.action = 'rename';
      rename.onclick = async () => {
        const to = $('name').value.trim();
        if (!to) { status('Type the new name in the Name field, then Rename', 'error'); return; }
        const x = await api('PATCH', `/people/${encodeURIComponent(p.name)}`, JSON.stringify({ name: to }), 'application/json');
        status(x.ok ? `Renamed ${p.name} to ${to}` : (x.json && x.json.error) || `HTTP ${x.status}`, x.ok ? 'ok' : 'error');
        await refresh();
      };
      const remove = document.createElement('button');
      remove.textContent = 'Remove';
      remove.dataset.action = 'remove';
      remove.onclick = async () => {
        const x = await api('DELETE', `/people/${encodeURIComponent(p.name)}`);
        status(x.ok ? `Removed ${p.name}` : (x.json && x.json.error) || `HTTP ${x.status}`, x.ok ? 'ok' : 'error');
        await refresh();
      };
      actions.append(rename, remove);
      tr.append(name, photos, actions);
      rows.appendChild(tr);
    }
  }

  async function loadThreshold() {
    const r = await api('GET', '/threshold');
    if (r.ok) $('threshold').textContent = `${r.json.threshold.toFixed(4)} (${r.json.calibrated ? 'calibrated' : 'model default'})`;
  }

  async function calibrate() {
    const far = $('far').value.trim();
    const r = await api('POST', `/calibrate?far=${encodeURIComponent(far)}`);
    if (!r.ok) {
      status((r.json && r.json.error) || `HTTP ${r.status}`, 'error');
    } else if (r.json.stored) {
      status(`Calibrated: threshold ${r.json.threshold.toFixed(4)} for a FAR of ${r.json.target_far}`, 'ok');
    } else {
      status(`Calibration refused: ${r.json.refusal}`, 'error');
    }
    await loadThreshold();
  }

  async function shoot() {
    const name = nameOrSay();
    if (!name) return;
    try {
      stream = stream || await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
      $('video').srcObject = stream;
      await $('video').play();
    } catch (e) {
      status('Camera unavailable', 'camera');
      return;
    }
    const video = $('video');
    const canvas = document.createElement('canvas');
    let taken = 0;
    for (let i = 1; i <= SHOTS; i++) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext('2d').drawImage(video, 0, 0);
      const jpeg = await new Promise(r => canvas.toBlob(r, 'image/jpeg', 0.92));
      if (await enroll(name, jpeg, 'image/jpeg', `shot ${i}`)) taken++;
      await new Promise(r => setTimeout(r, SHOT_INTERVAL_MS));
    }
    status(`${taken} of ${SHOTS} shots enrolled for ${name}`, taken === SHOTS ? 'ok' : 'error');
    await refresh();
  }

  async function upload() {
    const name = nameOrSay();
    if (!name) return;
    const files = Array.from($('files').files);
    if (files.length === 0) { status('Choose photos first', 'error'); return; }
    let taken = 0;
    for (const f of files) {
      if (await enroll(name, f, f.type || 'image/jpeg', f.name)) taken++;
    }
    status(`${taken} of ${files.length} photos enrolled for ${name}`, taken === files.length ? 'ok' : 'error');
    await refresh();
  }

  if (!collection || !key) {
    status('Open this page as /admin#collection=NAME&key=KEY (an enroll key)', 'setup');
    return;
  }
  $('collection').textContent = collection;
  $('shoot').onclick = shoot;
  $('upload').onclick = upload;
  $('calibrate').onclick = calibrate;
  refresh();
  loadThreshold();
})();
