// The door kiosk: camera → downscaled JPEG about 4 times a second, one request in flight at most → POST /door, whose
// answer (the pipeline's multi-frame rule, run server-side per session) is shown as one big line with the face boxes.
'use strict';

(() => {
  const FRAME_INTERVAL_MS = 250; // ~4 frames a second when the server keeps up
  const MAX_SIDE = 640;          // frames are downscaled so their longer side is at most this
  const RETRY_MS = 2000;         // after a failure (server unreachable, key refused), try again this often

  const params = new URLSearchParams(location.hash.slice(1));
  const collection = params.get('collection');
  const key = params.get('key');
  // One camera, one vote: a random id for this page's life (the server keeps a voter per session).
  const session = Array.from(crypto.getRandomValues(new Uint8Array(16)), b => b.toString(16).padStart(2, '0')).join('');

  const video = document.getElementById('video');
  const overlay = document.getElementById('overlay');
  const decision = document.getElementById('decision');
  const detail = document.getElementById('detail');
  const frame = document.createElement('canvas');

  function show(text, state, more) {
    decision.textContent = text;
    decision.dataset.state = state;
    detail.textContent = more || '';
  }

  function drawBoxes(boxes, scale) {
    overlay.width = video.videoWidth;
    overlay.height = video.videoHeight;
    const g = overlay.getContext('2d');
    g.clearRect(0, 0, overlay.width, overlay.height);
    g.lineWidth = Math.max(2, overlay.width / 200);
    g.strokeStyle = decision.dataset.state === 'welcome' ? '#4caf50' : '#ffb300';
    for (const [x1, y1, x2, y2] of boxes || []) {
      g.strokeRect(x1 / scale, y1 / scale, (x2 - x1) / scale, (y2 - y1) / scale);
    }
  }

  async function startCamera() {
    for (;;) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: 'user' }, audio: false });
        video.srcObject = stream;
        await video.play();
        return stream;
      } catch (e) {
        show('Camera unavailable', 'camera', e && e.name ? e.name : '');
        await new Promise(r => setTimeout(r, RETRY_MS));
      }
    }
  }

  async function sendFrame() {
    const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    frame.width = Math.round(video.videoWidth * scale);
    frame.height = Math.round(video.videoHeight * scale);
    frame.getContext('2d').drawImage(video, 0, 0, frame.width, frame.height);
    const jpeg = await new Promise(r => frame.toBlob(r, 'image/jpeg', 0.85));
    let response;
    try {
      response = await fetch(`/v1/collections/${encodeURIComponent(collection)}/door`, {
        method: 'POST',
        headers: { 'Authorization': `Bearer ${key}`, 'X-Door-Session': session, 'Content-Type': 'image/jpeg' },
        body: jpeg,
        cache: 'no-store',
        referrerPolicy: 'no-referrer',
        signal: AbortSignal.timeout(10000),
      });
    } catch (e) {
      show('Server unreachable', 'offline', 'retrying…');
      return RETRY_MS;
    }

    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      // not JSON: a proxy's page, say
    }

    if (response.status === 401 || response.status === 403) {
      show('Kiosk key refused', 'refused', body && body.error ? body.error : '');
      return RETRY_MS;
    }

    if (!response.ok || !body) {
      show('Door not available', 'error', body && body.error ? body.error : `HTTP ${response.status}`);
      return RETRY_MS;
    }

    show(body.message, body.decision, body.votes ? `${body.votes} of the last frames agree` : '');
    drawBoxes(body.boxes, scale);
    return 0;
  }

  async function run() {
    if (!collection || !key) {
      show('Not set up', 'setup', 'open this page as /kiosk#collection=NAME&key=KEY');
      return;
    }

    let stream = await startCamera();
    show('Look at the camera', 'no_face');
    for (;;) {
      const started = performance.now();
      let wait = 0;
      if (!stream.active || video.videoWidth === 0) {
        if (!stream.active) {
          show('Camera unavailable', 'camera', 'the camera stopped');
          stream = await startCamera();
        }
        wait = 100;
      } else {
        wait = await sendFrame();
      }
      const elapsed = performance.now() - started;
      await new Promise(r => setTimeout(r, Math.max(wait, FRAME_INTERVAL_MS - elapsed)));
    }
  }

  run();
})();
