/*! Consentry banner and runtime. Served by the proxy under /_consent/consent.js.
 *
 * Reads the consent state the proxy embedded in the page (#consentry-state), draws the
 * banner (first layer: Accept all / Reject all / Choose; second layer: categories with
 * their vendors), posts the visitor's decision to /_consent/ and then brings deferred
 * elements of granted categories to life in place (DESIGN.md markup: data-consent,
 * data-consent-src, type="text/plain" ...). Withdrawal reloads the page, because a
 * script that already ran cannot be unloaded. No dependencies, no build step.
 */
(function () {
  'use strict';
  var doc = document, win = window;
  var stateNode = doc.getElementById('consentry-state');
  if (!stateNode || win.consentry) return;
  var S;
  // The page carries this visitor's state; the site's texts, categories and theme come
  // from the cacheable site.js (window.__consentry_site), loaded just before this file.
  try { S = Object.assign({}, win.__consentry_site, JSON.parse(stateNode.textContent)); } catch (e) { return; }
  if (!S.texts || !S.categories) return;

  S.vendor_allow = S.vendor_allow || {};
  S.vendor_categories = S.vendor_categories || {};
  // A banner experiment variant changes some texts for this page view only.
  var T = Object.assign({}, S.texts, S.variant_texts || {}), base = S.consent_path;
  var granted = new Set(S.granted);
  var vendorConsent = Object.assign({}, S.vendor_consent);
  var vendors = {};
  S.vendors.forEach(function (v) { vendors[v.id] = v; });
  // The runtime's own nonce vouches for the scripts it activates under a nonce CSP.
  var ownNonce = (doc.currentScript && doc.currentScript.nonce) || '';
  var root, banner, overlay, prefs, settingsButton, statusLine, lastFocus, prefsInvoker, inertByUs = [];

  // -- consent logic (mirrors ConsentState.allows on the server) -------------------
  function allows(category, vendorId) {
    var rule = vendorId && S.vendor_allow[vendorId];
    if (rule) return rule === 'always';
    if (category === 'necessary') return true;
    if (S.gpc && category === 'marketing') return false;
    if (vendorId && Object.prototype.hasOwnProperty.call(vendorConsent, vendorId)) return !!vendorConsent[vendorId];
    return granted.has(category);
  }
  function text(key, vendorName) { return (T[key] || key).replace('{vendor}', vendorName || ''); }

  // -- tiny DOM builder (no innerHTML: texts come from a config file) --------------
  function h(tag, attrs, children) {
    var el = doc.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === false || v == null) return;
      if (k === 'text') el.textContent = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    });
    (children || []).forEach(function (c) { if (c) el.appendChild(typeof c === 'string' ? doc.createTextNode(c) : c); });
    return el;
  }
  function button(label, action, extra) {
    return h('button', Object.assign({ type: 'button', 'class': 'consentry-button', 'data-action': action, text: label }, extra));
  }

  // -- first layer -------------------------------------------------------------------
  function buildBanner() {
    var intro = h('p', { id: 'consentry-intro', 'class': 'consentry-intro' }, [T.intro + ' ']);
    if (S.privacy_policy_url) intro.appendChild(h('a', { href: S.privacy_policy_url, text: T.privacy_policy }));
    return h('section', {
      'class': 'consentry-banner', role: 'dialog', 'aria-modal': 'false',
      'aria-labelledby': 'consentry-title', 'aria-describedby': 'consentry-intro', tabindex: '-1', hidden: true
    }, [
      h('h2', { id: 'consentry-title', 'class': 'consentry-title', text: T.title }),
      intro,
      h('div', { 'class': 'consentry-actions' }, (S.first_layer || ['accept_all', 'reject_all', 'customize']).map(function (action) {
        if (action === 'customize') return button(T.choose, 'choose', { 'aria-haspopup': 'dialog' });
        return button(T[action], action);
      }))
    ]);
  }

  // -- second layer ----------------------------------------------------------------
  function vendorItem(v) {
    var cookies = v.cookies.map(function (c) { return c.name + (c.lifetime ? ' (' + c.lifetime + ')' : ''); }).join(', ');
    var item = h('li', {}, [h('strong', { text: v.name })]);
    if (v.privacy_url) {
      item.appendChild(doc.createTextNode(' \u00b7 '));
      item.appendChild(h('a', { href: v.privacy_url, target: '_blank', rel: 'noopener noreferrer', text: T.vendor_privacy }));
    }
    if (cookies) item.appendChild(h('div', { 'class': 'consentry-cookies', text: T.cookies + ': ' + cookies }));
    return item;
  }
  // -- vendors: those the proxy described, plus any this page holds (details fetched once) --
  var vendorsLoaded = null;
  function pageVendorIds() {
    var ids = new Set(S.vendors.map(function (v) { return v.id; }));
    doc.querySelectorAll('[data-consent-vendor]').forEach(function (el) { ids.add(el.getAttribute('data-consent-vendor')); });
    return ids;
  }
  function ensureVendors() {
    var missing = Array.from(pageVendorIds()).some(function (id) { return !vendors[id]; });
    if (!missing) return Promise.resolve();
    if (!vendorsLoaded) {
      vendorsLoaded = fetch(base + '/vendors.json', { credentials: 'same-origin' })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (list) {
          list.forEach(function (v) {
            if (vendors[v.id]) return;
            v.category = S.vendor_categories[v.id] || v.category;
            vendors[v.id] = v;
          });
        }, function () {});
    }
    return vendorsLoaded;
  }
  function renderVendors() {
    var known = Array.from(pageVendorIds()).map(function (id) { return vendors[id]; }).filter(Boolean)
      .sort(function (a, b) { return a.name.localeCompare(b.name); });
    prefs.querySelectorAll('.consentry-vendor-slot').forEach(function (slot) {
      var list = known.filter(function (v) { return v.category === slot.getAttribute('data-for'); });
      slot.textContent = '';
      slot.appendChild(list.length
        ? h('details', { 'class': 'consentry-vendors' }, [
            h('summary', { text: T.services + ' (' + list.length + ')' }),
            h('ul', {}, list.map(vendorItem))
          ])
        : h('p', { 'class': 'consentry-none', text: T.no_services }));
    });
  }
  function categoryBlock(cat) {
    var id = 'consentry-js-cat-' + cat.name, descId = id + '-desc';
    var locked = cat.required || (cat.name === 'marketing' && S.gpc);
    var box = h('input', {
      type: 'checkbox', id: id, 'data-category': cat.name, 'aria-describedby': descId,
      disabled: locked
    });
    box.checked = cat.required || (!locked && granted.has(cat.name));
    var note = cat.required ? T.always_active : (locked ? T.gpc_note : '');
    return h('div', { 'class': 'consentry-category' }, [
      h('label', { 'class': 'consentry-check', 'for': id }, [
        box, ' ', h('span', { 'class': 'consentry-label', text: cat.label }),
        note ? h('span', { 'class': 'consentry-always', text: ' (' + note + ')' }) : null
      ]),
      h('p', { 'class': 'consentry-description', id: descId, text: cat.description }),
      h('div', { 'class': 'consentry-vendor-slot', 'data-for': cat.name })
    ]);
  }
  function buildPrefs() {
    var dialog = h('section', {
      'class': 'consentry-prefs', role: 'dialog', 'aria-modal': 'true',
      'aria-labelledby': 'consentry-prefs-title', tabindex: '-1'
    }, [
      h('div', { 'class': 'consentry-prefs-head' }, [
        h('h2', { id: 'consentry-prefs-title', 'class': 'consentry-title', text: T.prefs_title }),
        h('button', { type: 'button', 'class': 'consentry-close', 'data-action': 'close', 'aria-label': T.close, text: '\u00d7' })
      ]),
      h('p', { text: T.prefs_intro }),
      S.gpc ? h('p', { 'class': 'consentry-note', text: T.gpc_note }) : null
    ].concat(S.categories.map(categoryBlock)).concat([
      h('div', { 'class': 'consentry-actions' }, [
        button(T.save, 'save'), button(T.reject_all, 'reject_all'), button(T.accept_all, 'accept_all')
      ])
    ]));
    return h('div', { 'class': 'consentry-overlay', hidden: true }, [dialog]);
  }

  // -- showing, hiding, focus ------------------------------------------------------
  function focusables(container) {
    return Array.prototype.filter.call(
      container.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]), summary, [tabindex]:not([tabindex="-1"])'),
      function (el) { return el.getClientRects().length > 0; });
  }
  function setInert(on) {
    // While the second layer is modal, the page and the first layer are out of reach
    // (only what we made inert is given back: the page may have inert parts of its own).
    if (on) {
      inertByUs = Array.prototype.filter.call(doc.body.children, function (el) { return el !== root && !el.inert; })
        .concat([banner, settingsButton]);
      inertByUs.forEach(function (el) { el.inert = true; });
    } else {
      inertByUs.forEach(function (el) { el.inert = false; });
      inertByUs = [];
    }
  }
  function showBanner() {
    if (!S.show_banner) return;
    banner.hidden = false; settingsButton.hidden = true;
    if (!lastFocus) lastFocus = doc.activeElement;
    banner.focus({ preventScroll: true });
  }
  function restoreFocus(fallback) {
    var target = lastFocus && lastFocus !== doc.body && doc.contains(lastFocus) && !root.contains(lastFocus) ? lastFocus : fallback;
    lastFocus = null;
    if (target && target !== doc.body && target.focus) target.focus({ preventScroll: true });
    // <body> cannot take focus: letting go of ours puts the keyboard back at the page.
    else if (root.contains(doc.activeElement)) doc.activeElement.blur();
  }
  function openPrefs(invoker) {
    prefs.querySelectorAll('input[data-category]').forEach(function (box) {
      var name = box.getAttribute('data-category');
      if (!box.disabled) box.checked = granted.has(name);
    });
    if (!overlay.hidden) return;
    prefsInvoker = invoker || doc.activeElement;
    if (!root.contains(prefsInvoker)) lastFocus = prefsInvoker;
    overlay.hidden = false;
    setInert(true);
    overlay.firstChild.focus();
  }
  function closePrefs(afterDecision) {
    if (overlay.hidden) return;
    overlay.hidden = true;
    setInert(false);
    if (afterDecision) return;
    var back = prefsInvoker; prefsInvoker = null;
    if (!banner.hidden && banner.contains(back)) back.focus(); else if (back && doc.contains(back) && back.focus) back.focus();
    else settingsButton.focus();
  }
  function onKeydown(event) {
    if (!overlay.hidden) {
      if (event.key === 'Escape') { event.preventDefault(); closePrefs(); return; }
      if (event.key === 'Tab') {
        var items = focusables(overlay), first = items[0], last = items[items.length - 1];
        var active = doc.activeElement;
        if (event.shiftKey && (active === first || !overlay.contains(active) || active === overlay.firstChild)) { event.preventDefault(); last.focus(); }
        else if (!event.shiftKey && (active === last || !overlay.contains(active))) { event.preventDefault(); first.focus(); }
      }
    } else if (event.key === 'Escape' && !banner.hidden && banner.contains(doc.activeElement)) {
      // Escape leaves the banner (no decision is taken for the visitor); it stays on screen.
      restoreFocus(doc.body);
    }
  }

  // -- decisions ---------------------------------------------------------------------
  function setBusy(on) {
    root.querySelectorAll('.consentry-button').forEach(function (b) { b.disabled = on; });
    root.setAttribute('aria-busy', on ? 'true' : 'false');
  }
  function chosenCategories() {
    return Array.prototype.filter.call(prefs.querySelectorAll('input[data-category]'), function (box) {
      return box.checked && !box.disabled;
    }).map(function (box) { return box.getAttribute('data-category'); });
  }
  function post(body) {
    // The banner experiment variant drawn for this page view goes with the decision
    // (and the language, so the receipt's text digest names the texts really shown).
    if (S.variant) { body.variant = S.variant; body.lang = S.lang; }
    setBusy(true);
    statusLine.textContent = '';
    return fetch(base + '/', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) throw new Error('consent API answered ' + response.status);
      return response.json();
    }).then(function (result) {
      setBusy(false);
      applyDecision(result, body.vendors);
      return result;
    }, function (error) {
      setBusy(false);
      statusLine.className = 'consentry-status consentry-error';
      statusLine.textContent = T.error;
      if (win.console) console.warn('consentry:', error);
      throw error;
    });
  }
  function decide(action) {
    var body = { action: action };
    if (action === 'save') body.categories = chosenCategories();
    return post(body).catch(function () {});
  }
  function applyDecision(result, vendorChanges) {
    var before = new Set(granted), beforeVendors = Object.assign({}, vendorConsent);
    granted = new Set((result.categories || []).concat(['necessary']));
    if (result.vendors) vendorConsent = Object.assign({}, result.vendors);
    else if (vendorChanges) vendorConsent = Object.assign({}, vendorConsent, vendorChanges);
    var revoked = Array.from(before).filter(function (c) { return !granted.has(c); });
    var vendorRevoked = Object.keys(beforeVendors).some(function (v) { return beforeVendors[v] && !vendorConsent[v]; });
    var gained = Array.from(granted).some(function (c) { return !before.has(c); }) ||
      Object.keys(vendorConsent).some(function (v) { return vendorConsent[v] && !beforeVendors[v]; });
    S.decided = true;
    closePrefs(true);
    banner.hidden = true;
    settingsButton.hidden = !S.show_banner;
    statusLine.className = 'consentry-status';
    statusLine.textContent = T.saved;
    restoreFocus(settingsButton);
    googleUpdate();
    announce();
    if (revoked.length || vendorRevoked) {
      clearCookies(revoked);
      win.location.reload();
      return;
    }
    if (gained && (S.mode === 'strip' || S.csp === 'enforce')) {
      // Strip mode removed the elements; an enforced CSP still names the old consent.
      win.location.reload();
      return;
    }
    activateAll();
  }
  function announce() {
    var detail = { categories: Array.from(granted), vendors: Object.assign({}, vendorConsent) };
    // The guard (guard.js, first in <head>) must stop refusing what is now allowed
    // before anything is activated, or it would neutralise the activated elements again.
    var guard = win.__consentry_guard;
    if (guard && typeof guard.update === 'function') guard.update(detail.categories, detail.vendors);
    doc.dispatchEvent(new CustomEvent('consentry:change', { detail: detail }));
  }
  function googleUpdate() {
    if (S.google_consent_mode === 'off') return;
    var map = {
      ad_storage: 'marketing', ad_user_data: 'marketing', ad_personalization: 'marketing',
      analytics_storage: 'analytics', functionality_storage: 'preferences',
      personalization_storage: 'preferences', security_storage: 'necessary'
    };
    var update = {};
    Object.keys(map).forEach(function (k) { update[k] = allows(map[k]) ? 'granted' : 'denied'; });
    var gtag = typeof win.gtag === 'function' ? win.gtag : function () { (win.dataLayer = win.dataLayer || []).push(arguments); };
    gtag('consent', 'update', update);
  }
  function clearCookies(categories) {
    // The server expires these too; this also catches cookies set for a parent domain.
    var patterns = [];
    S.vendors.forEach(function (v) {
      if (categories.indexOf(v.category) < 0) return;
      v.cookies.forEach(function (c) {
        patterns.push(new RegExp('^' + c.name.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$'));
      });
    });
    var labels = location.hostname.split('.');
    doc.cookie.split(';').forEach(function (pair) {
      var name = pair.split('=')[0].trim();
      if (!name || !patterns.some(function (p) { return p.test(name); })) return;
      for (var i = 0; i < labels.length; i++) {
        var domain = i ? '; domain=.' + labels.slice(i).join('.') : '';
        doc.cookie = name + '=; max-age=0; path=/' + domain;
      }
    });
  }

  // -- activation of deferred markup -------------------------------------------------
  function hasInertType(el) { return (el.getAttribute('type') || '').toLowerCase() === 'text/plain'; }
  function isInertScript(el) { return el.tagName === 'SCRIPT' && hasInertType(el); }
  function isDeferred(el) {
    if (el.tagName === 'SCRIPT') return hasInertType(el);
    return (el.tagName === 'STYLE' && hasInertType(el)) || el.getAttributeNames().some(restoredName);
  }
  // data-consent-src -> src, data-consent-data-src -> data-src ...; these are ours, not moved ones.
  // data-consent-partial: the element stayed live, only some of its URLs (one srcset
  // candidate, a ping target, a poster) wait in data-consent-* for consent.
  var OWN_MARKERS = ['data-consent-vendor', 'data-consent-type', 'data-consent-pending', 'data-consent-activated',
    'data-consent-partial'];
  function restoredName(name) {
    return name.indexOf('data-consent-') === 0 && OWN_MARKERS.indexOf(name) < 0 ? name.slice(13) : null;
  }
  function liveScript(old) {
    var s = doc.createElement('script');
    old.getAttributeNames().forEach(function (name) {
      var value = old.getAttribute(name);
      if (name === 'type' || name === 'nonce' || name.indexOf('data-consent') === 0 && !restoredName(name) && name !== 'data-consent-type') return;
      if (name === 'data-consent-type') s.setAttribute('type', value);
      else s.setAttribute(restoredName(name) || name, value);
    });
    s.setAttribute('data-consent-activated', old.getAttribute('data-consent-pending') || '');
    var nonce = old.nonce || ownNonce;
    if (nonce) s.nonce = nonce;
    if (!s.src) s.text = old.text;
    return s;
  }
  function scriptKind(s) {
    var type = (s.getAttribute('type') || '').toLowerCase();
    if (type === 'module') return s.hasAttribute('async') ? 'async' : 'deferred';
    if (!s.src) return 'blocking';
    if (s.hasAttribute('async')) return 'async';
    return s.hasAttribute('defer') ? 'deferred' : 'blocking';
  }
  function run(old) {
    // Resolves when the re-created script has run (external: loaded or failed).
    return new Promise(function (resolve) {
      var s = liveScript(old);
      var external = !!s.src;
      if (external) {
        s.addEventListener('load', resolve); s.addEventListener('error', resolve);
        // A tracker host that never answers must not hold every later script hostage.
        setTimeout(resolve, 15000);
      }
      if (old.parentNode) old.parentNode.replaceChild(s, old); else doc.head.appendChild(s);
      if (!external) resolve();
    });
  }
  function restoreElement(el) {
    el.getAttributeNames().forEach(function (name) {
      var real = restoredName(name);
      if (!real) return;
      var value = el.getAttribute(name);
      el.removeAttribute(name);
      el.setAttribute(real, value);
    });
    el.setAttribute('data-consent-activated', el.getAttribute('data-consent') || '');
    el.removeAttribute('data-consent');
    el.removeAttribute('data-consent-partial');
    var parent = el.parentNode;
    if (el.tagName === 'SOURCE' && parent) {
      if (parent.tagName === 'VIDEO' || parent.tagName === 'AUDIO') parent.load();
      var img = parent.tagName === 'PICTURE' && parent.querySelector('img');
      if (img && img.hasAttribute('src')) img.setAttribute('src', img.getAttribute('src'));
    }
    if (el.tagName === 'STYLE' && (el.getAttribute('type') || '').toLowerCase() === 'text/plain') {
      var style = el.cloneNode(true);
      if (el.hasAttribute('data-consent-type')) style.setAttribute('type', el.getAttribute('data-consent-type'));
      else style.removeAttribute('type');
      style.removeAttribute('data-consent-type');
      if (el.nonce || ownNonce) style.nonce = el.nonce || ownNonce;
      el.parentNode.replaceChild(style, el);
    }
  }
  function removePlaceholder(el) {
    var holder = el.previousElementSibling;
    if (!holder || !holder.classList.contains('consentry-embed')) return;
    holder.remove();
    el.hidden = el.hasAttribute('data-consentry-was-hidden');
    el.removeAttribute('data-consentry-was-hidden');
  }
  function withDocumentWrite(work) {
    // Re-activated legacy tags may call document.write after the page has loaded, which
    // would wipe the page: write their markup after the calling script instead.
    var originalWrite = doc.write, originalWriteln = doc.writeln, anchors = new Map();
    function write() {
      var markup = Array.prototype.join.call(arguments, '');
      var current = doc.currentScript, parent = (current && current.parentNode) || doc.body;
      var anchor = anchors.get(current);
      if (!anchor) {
        anchor = doc.createTextNode('');
        parent.insertBefore(anchor, current ? current.nextSibling : null);
        anchors.set(current, anchor);
      }
      var range = doc.createRange();
      range.selectNodeContents(parent);
      anchor.parentNode.insertBefore(range.createContextualFragment(markup), anchor);
    }
    doc.write = write;
    doc.writeln = function () { write(Array.prototype.join.call(arguments, '') + '\n'); };
    return work().then(function () { doc.write = originalWrite; doc.writeln = originalWriteln; });
  }
  var activation = Promise.resolve();
  function activate(elements) {
    // One activation at a time, so two quick decisions cannot run a script twice.
    activation = activation.then(function () {
      var deferred = [], chain = Promise.resolve();
      elements.forEach(function (el) {
        if (!doc.contains(el) || !el.hasAttribute('data-consent')) return;
        removePlaceholder(el);
        if (!isInertScript(el)) { restoreElement(el); return; }
        var kind = scriptKind(liveScript(el));
        // Claimed: a second pass must not pick it up while it waits for its turn.
        el.setAttribute('data-consent-pending', el.getAttribute('data-consent'));
        el.removeAttribute('data-consent');
        if (kind === 'deferred') deferred.push(el);
        else if (kind === 'async') chain = chain.then(function () { run(el); });
        else chain = chain.then(function () { return run(el); });
      });
      return withDocumentWrite(function () {
        return chain.then(function () {
          return deferred.reduce(function (p, el) { return p.then(function () { return run(el); }); }, Promise.resolve());
        });
      });
    });
    return activation;
  }
  function activateAll() {
    var ready = Array.prototype.filter.call(doc.querySelectorAll('[data-consent]'), function (el) {
      return allows(el.getAttribute('data-consent'), el.getAttribute('data-consent-vendor')) && isDeferred(el);
    });
    return activate(ready).then(function () {
      // Calls first-party code made to the guard's stand-ins go to the real functions now.
      var guard = win.__consentry_guard;
      if (guard && typeof guard.replay === 'function') guard.replay();
    });
  }

  // -- click-to-load placeholders for embeds -----------------------------------------
  function placeholders() {
    doc.querySelectorAll('[data-consent][data-consent-vendor]').forEach(function (el) {
      var vendor = vendors[el.getAttribute('data-consent-vendor')];
      // Embed scripts (Instagram, X) get one too, unless they sit in <head> where nothing shows.
      if (!vendor || !vendor.embed || !isDeferred(el) || el.hasAttribute('data-consent-partial') ||
          (el.tagName === 'SCRIPT' && doc.head.contains(el))) return;
      // Allowed: it is being activated. Never allowed by the site: nothing to offer.
      if (allows(el.getAttribute('data-consent'), vendor.id) || S.vendor_allow[vendor.id] === 'never') return;
      var prev = el.previousElementSibling;
      if (prev && prev.classList.contains('consentry-embed')) return;
      var width = el.getAttribute('width'), height = el.getAttribute('height');
      var box = h('div', { 'class': 'consentry-embed', role: 'group', 'aria-label': vendor.name }, [
        h('p', { text: text('embed_text', vendor.name) }),
        h('div', { 'class': 'consentry-actions' }, [
          h('button', { type: 'button', 'class': 'consentry-button', text: T.load_once, onclick: function () { activate([el]); } }),
          h('button', {
            type: 'button', 'class': 'consentry-button', text: text('always_allow', vendor.name),
            onclick: function () {
              var change = {}; change[vendor.id] = true;
              post({
                action: 'save',
                categories: Array.from(granted).filter(function (c) { return c !== 'necessary'; }),
                vendors: Object.assign({}, vendorConsent, change)
              }).catch(function () {});
            }
          })
        ]),
        vendor.privacy_url ? h('a', { href: vendor.privacy_url, target: '_blank', rel: 'noopener noreferrer', text: T.privacy_policy + ' \u2013 ' + vendor.name }) : null
      ]);
      if (width && /^\d+$/.test(width)) box.style.maxWidth = width + 'px';
      if (height && /^\d+$/.test(height)) box.style.minHeight = height + 'px';
      if (el.hidden) el.setAttribute('data-consentry-was-hidden', '');
      el.hidden = true;
      el.parentNode.insertBefore(box, el);
    });
  }

  // -- start ---------------------------------------------------------------------------
  function start() {
    banner = buildBanner();
    overlay = buildPrefs();
    prefs = overlay.firstChild;
    settingsButton = h('button', {
      type: 'button', 'class': 'consentry-settings', 'aria-haspopup': 'dialog', text: T.settings, hidden: true
    });
    statusLine = h('div', { 'class': 'consentry-status', role: 'status', 'aria-live': 'polite' });
    root = h('div', {
      'class': 'consentry-root' + (S.layout ? ' consentry-layout-' + S.layout : ''), lang: S.lang,
      'data-consentry-variant': S.variant || null
    }, [banner, overlay, settingsButton, statusLine]);
    Object.keys(S.theme || {}).forEach(function (k) { root.style.setProperty(k, S.theme[k]); });
    root.addEventListener('click', function (event) {
      var target = event.target.closest('[data-action]');
      if (target && root.contains(target)) {
        var action = target.getAttribute('data-action');
        if (action === 'choose') openPrefs(target);
        else if (action === 'close') closePrefs();
        else decide(action);
      } else if (event.target === overlay) {
        closePrefs();
      }
    });
    settingsButton.addEventListener('click', function () { openPrefs(settingsButton); });
    // Links to the preferences page (e.g. a "Cookie settings" footer link) open the dialog in place.
    doc.addEventListener('click', function (event) {
      var link = event.target.closest && event.target.closest('a[href], [data-consentry-open]');
      if (!link || root.contains(link)) return;
      var target = null;
      try { target = new URL(link.getAttribute('href') || '', location.href); } catch (e) { /* not a URL */ }
      if (link.hasAttribute('data-consentry-open') ||
          (target && target.origin === location.origin && target.pathname === base + '/')) {
        event.preventDefault();
        openPrefs(link);
      }
    });
    doc.addEventListener('keydown', onKeydown);
    doc.body.appendChild(root);
    renderVendors();
    ensureVendors().then(function () { renderVendors(); placeholders(); });
    if (S.decided || !S.show_banner) settingsButton.hidden = !S.show_banner;
    else showBanner();
    // Nothing is activated on arrival: the server rendered this page for this very
    // consent, and what it left inert it left inert for a reason (e.g. allow = "never").
  }

  win.consentry = {
    open: function () { openPrefs(); },
    allows: allows,
    get categories() { return Array.from(granted); },
    acceptAll: function () { return post({ action: 'accept_all' }); },
    rejectAll: function () { return post({ action: 'reject_all' }); }
  };
  if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', start); else start();
})();
