/* The demo site's own script (first party, necessary): it must keep working behind the proxy. */
document.documentElement.setAttribute('data-site-js', 'ran');
document.addEventListener('DOMContentLoaded', function () {
  var status = document.getElementById('first-party-status');
  if (status) status.textContent = 'First-party script: ran.';
});
