document.getElementById('app').textContent = 'runbook-autopilot';
