/* Consentry guard: the first script in <head>. Stops trackers the visitor refused
 * that page scripts create at run time (createElement + src, innerHTML,
 * document.write, fetch, XHR, sendBeacon...) before they fetch. Blocked elements
 * stay inert with the markup the proxy's rewriter uses (type="text/plain",
 * data-consent, data-consent-vendor, data-consent-src...), so the consent runtime
 * activates them after a decision; it calls __consentry_guard.update() first.
 * The config is baked in per response by proxy/csp.py (guard_config). */
(function (cfg) {
  "use strict";
  // One install per document: the page, and every same-origin document created in it
  // (about:blank, srcdoc and javascript: frames, window.open("")), whose own prototypes
  // a script there could use instead of the page's.
  function install(W, cfg, parent) {
    var D = W.document;
    if (!cfg || W.__consentry_guard) return W.__consentry_guard || null;
    // Served as a cacheable file, the guard is the same for every visitor of a site; this
    // visitor's choices ride on its <script> tag (data-state). Unreadable choices keep the
    // baked-in defaults: nothing granted, so everything refusable stays refused.
    var me = parent ? null : D.currentScript, own = me && me.getAttribute("data-state");
    if (own) {
      try {
        own = JSON.parse(own);
        cfg.g = own.g; cfg.o = own.o; cfg.gpc = !!own.gpc; cfg.r = own.r; cfg.x = own.r ? own.x || [] : null;
      } catch (e) { /* keep the defaults */ }
    }
    // V: [id, category, "host host/path ...", forced?]; H: [host, path prefix, vendor index].
    var V = cfg.v, H = [], granted = {}, choices = cfg.o || {}, cache = {}, cached = 0;
    for (var n = 0; n < V.length; n++) {
      var list = V[n][2].split(" ");
      for (var k = 0; k < list.length; k++) {
        var slash = list[k].indexOf("/");
        H.push(slash < 0 ? [list[k], "", n] : [list[k].slice(0, slash), list[k].slice(slash), n]);
      }
    }
    var api = { update: update, refuses: refuses, blocked: [], csp: cfg.c, replay: replay };
    var frames = [], grantedList = cfg.g || [];
    W.__consentry_guard = api;
    setGranted(cfg.g);
    // Inert stand-ins for refused vendors' globals (proxy/csp/stubs.py): first-party code
    // that calls fbq(...) or dataLayer.push(...) unguarded neither throws nor sends.
    // Functions record their calls and answer everything with an inert object; array
    // queues are plain arrays that the vendor's loader adopts after consent.
    var stubs = [], removed = [];
    function inertObject() {
      var target = function () {};
      var self = typeof Proxy === "function" ? new Proxy(target, {
        get: function (t, key) {
          if (key === Symbol.toPrimitive) return function () { return ""; };
          if (key === "then" || key === "toJSON") return undefined;
          if (key === "length") return 0;
          if (key === "toString" || key === "valueOf") return function () { return ""; };
          return self;
        },
        set: function () { return true; },
        apply: function () { return self; },
        construct: function () { return self; }
      }) : target;
      return self;
    }
    function makeStub(name) {
      var calls = [], rest = inertObject();
      var f = function () { calls.push(arguments); return rest; };
      var stub = typeof Proxy === "function" ? new Proxy(f, {
        get: function (t, key) {
          if (key === "__consentry_stub") return true;
          if (key === Symbol.toPrimitive || key === "then" || key === "toJSON" || key === "length" ||
              key === "toString" || key === "valueOf" || key === "call" || key === "apply" || key === "bind") return t[key];
          return rest;
        },
        set: function () { return true; }
      }) : f;
      return { name: name, stub: stub, calls: calls };
    }
    // gtag as Google's snippet defines it: it only queues, so it may run whatever was refused.
    function queueFunction(queue) {
      return function () { (W[queue] = W[queue] || []).push(arguments); };
    }
    var Q = cfg.q || [];
    for (var q = 0; q < Q.length; q++) {
      var gname = Q[q][0];
      if (gname in W || allAllowed(Q[q][2])) continue;
      var kind = Q[q][1], made = typeof kind === "string" ? { name: gname, stub: queueFunction(kind), calls: null }
        : kind ? { name: gname, stub: [], calls: null } : makeStub(gname);
      made.vendors = Q[q][2];
      try { W[gname] = made.stub; stubs.push(made); } catch (e) { /* a read-only global: leave it */ }
    }
    // Consent for a stub's vendors: the stand-in steps aside before the loader is activated
    // (loaders skip when their global exists); replay() then hands the recorded calls on.
    function liftStubs() {
      for (var i = stubs.length - 1; i >= 0; i--) {
        var st = stubs[i];
        if (!allAllowed(st.vendors)) continue;
        stubs.splice(i, 1);
        if (st.calls === null) continue;
        if (W[st.name] === st.stub) { try { delete W[st.name]; } catch (e) { W[st.name] = undefined; } }
        removed.push(st);
      }
    }
    function allAllowed(indices) {
      for (var j = 0; j < indices.length; j++) if (!allowedVendor(V[indices[j]])) return false;
      return true;
    }
    function replay() {
      var list = removed; removed = [];
      for (var i = 0; i < list.length; i++) {
        var real = W[list[i].name];
        if (typeof real !== "function" || real === list[i].stub) continue;
        for (var k = 0; k < list[i].calls.length; k++) {
          try { real.apply(W, list[i].calls[k]); } catch (e) { /* the vendor's own error */ }
        }
      }
    }
    // Nothing can be refused: wrap nothing, cost nothing.
    if (!H.length && !cfg.u) return api;

    function setGranted(list) {
      granted = { necessary: 1 };
      for (var i = 0; i < (list || []).length; i++) granted[list[i]] = 1;
    }
    function update(categories, vendors) {
      setGranted(categories);
      grantedList = categories || [];
      choices = vendors || {};
      cache = {}; cached = 0;
      liftStubs();
      for (var i = 0; i < frames.length; i++) {
        try { frames[i].update(categories, vendors); } catch (e) { /* a frame that went away */ }
      }
    }
    function allowedCategory(c) {
      return c === "necessary" || (!(cfg.gpc && c === "marketing") && !!granted[c]);
    }
    function allowedVendor(v) {
      if (v[3] === 1) return true;
      if (v[3] === 0) return false;
      if (v[1] === "necessary") return true;
      if (cfg.gpc && v[1] === "marketing") return false;
      if (Object.prototype.hasOwnProperty.call(choices, v[0])) return !!choices[v[0]];
      return !!granted[v[1]];
    }
    function suffix(host, p) {
      return host === p || (host.length > p.length && host.slice(-p.length - 1) === "." + p);
    }
    // First party as the server decides it (Public Suffix List): the page host's registrable
    // domain (r) and the public suffixes the list has below it (x), from the tag's
    // data-state. Without them only the page's own host is first party.
    // (An about:blank or srcdoc frame has no host of its own: it keeps its parent's, h.)
    var pageHost = cfg.h = (W.location.hostname || cfg.h || "").toLowerCase();
    var domain = cfg.r || pageHost, below = cfg.x || [pageHost];
    function ownHost(host) {
      if (host === pageHost || host === domain) return true;
      var own = suffix(host, domain);
      for (var j = 0; own && j < below.length; j++) if (suffix(host, below[j])) own = false;
      if (own) return true;
      for (var i = 0; i < cfg.s.length; i++) {
        var s = cfg.s[i].split(":")[0];
        if (suffix(host, s.replace(/^\*\./, ""))) return true;
      }
      return false;
    }
    // A URL with a scheme or starting with two slashes (the URL parser drops tabs and
    // newlines anywhere, and spaces and controls in front) can leave the page's origin.
    var ABSOLUTE = /^[\x00-\x20]*(?:[a-z][a-z0-9+.\-]*:|[\\/][\\/])/i, WHITESPACE = /[\t\n\r]/g;
    var ORIGIN = W.location.origin + "/";
    function ownBase() {
      return D.baseURI.lastIndexOf(ORIGIN, 0) === 0;
    }
    // The catalogue entries whose host covers this host, found once per host.
    var byHost = {}, hosts = 0;
    function candidates(host) {
      var found = byHost[host];
      if (!found) {
        found = [];
        for (var i = 0; i < H.length; i++) if (suffix(host, H[i][0])) found.push(H[i]);
        if (++hosts > 500) { byHost = {}; hosts = 0; }
        byHost[host] = found;
      }
      return found;
    }
    // The refusal for one URL ({vendor, category}) or null. Cached: pages ask about the same URLs.
    function refuses(url) {
      if (url == null) return null;
      url = String(url);
      // Relative URLs stay on the site (unless a <base> points elsewhere): the common case, fast.
      if (!ABSOLUTE.test(url.replace(WHITESPACE, "")) && ownBase()) return null;
      if (cache.hasOwnProperty(url)) return cache[url];
      var hit = null, u = null;
      try { u = new W.URL(url, D.baseURI); } catch (e) { /* not a URL: fetches nothing */ }
      if (u && /^(https?|wss?):$/.test(u.protocol)) {
        var host = u.hostname.toLowerCase().replace(/\.$/, ""), best = -1, len = -1, list = candidates(host);
        for (var i = 0; i < list.length; i++) {
          var e = list[i];
          if (u.pathname.indexOf(e[1]) === 0 && e[0].length + e[1].length > len) {
            best = e[2]; len = e[0].length + e[1].length;
          }
        }
        if (best >= 0) {
          if (!allowedVendor(V[best])) hit = { vendor: V[best][0], category: V[best][1] };
        } else if (cfg.u && !allowedCategory(cfg.u) && !ownHost(host)) {
          hit = { vendor: "", category: cfg.u };
        }
      }
      if (++cached > 500) { cache = {}; cached = 0; }
      cache[url] = hit;
      return hit;
    }
    function note(hit, url, how) {
      if (api.blocked.length < 100) api.blocked.push({ vendor: hit.vendor, category: hit.category, url: String(url).slice(0, 200), via: how });
    }
    // srcset and ping hold several URLs; one refused URL refuses the attribute.
    function refusesValue(name, value) {
      if (name === "srcset") {
        var parts = String(value).split(",");
        for (var i = 0; i < parts.length; i++) {
          var hit = refuses(parts[i].trim().split(/\s+/)[0]);
          if (hit) return hit;
        }
        return null;
      }
      if (name === "ping") {
        var urls = String(value).trim().split(/\s+/);
        for (var j = 0; j < urls.length; j++) if (refuses(urls[j])) return refuses(urls[j]);
        return null;
      }
      return refuses(value);
    }

    var HTML = "http://www.w3.org/1999/xhtml";
    var EP = W.Element.prototype, NP = W.Node.prototype;
    var setA = EP.setAttribute, getA = EP.getAttribute, remA = EP.removeAttribute;
    // Per tag, the attributes that make the element fetch.
    var FETCH = {
      SCRIPT: ["src"], IMG: ["src", "srcset"], IFRAME: ["src"], FRAME: ["src"], SOURCE: ["src", "srcset"],
      VIDEO: ["src", "poster"], AUDIO: ["src"], EMBED: ["src"], OBJECT: ["data"], LINK: ["href"],
      INPUT: ["src"], TRACK: ["src"], A: ["ping"], AREA: ["ping"]
    };
    var SELECTOR = "script[src],img,iframe[src],frame[src],source,video,audio[src],embed[src],object[data],link[href],input[src],track[src],a[ping],area[ping]";

    function fetches(el, name) {
      var names = el.namespaceURI === HTML && FETCH[el.tagName];
      return !!names && names.indexOf(name) >= 0;
    }
    // Make an element inert the DESIGN.md way instead of giving it the refused URL.
    function inert(el, name, value, hit, how) {
      note(hit, value, how);
      setA.call(el, "data-consent", hit.category);
      if (hit.vendor) setA.call(el, "data-consent-vendor", hit.vendor);
      setA.call(el, "data-consent-" + name, String(value));
      if (el.tagName === "SCRIPT") {
        var type = getA.call(el, "type");
        if (type !== null && type !== "text/plain") setA.call(el, "data-consent-type", type);
        setA.call(el, "type", "text/plain");
      }
      remA.call(el, name);
      // As the rewriter does: a srcset or ping keeps its first-party entries live.
      var kept = keptPart(name, value);
      if (kept !== null) { setA.call(el, name, kept); setA.call(el, "data-consent-partial", ""); }
    }
    function keptPart(name, value) {
      if (name !== "srcset" && name !== "ping") return null;
      var parts = name === "srcset" ? String(value).split(",") : String(value).trim().split(/\s+/), kept = [];
      for (var i = 0; i < parts.length; i++) {
        var url = name === "srcset" ? parts[i].trim().split(/\s+/)[0] : parts[i];
        if (url && !refuses(url)) kept.push(parts[i].trim());
      }
      return kept.length && kept.length < parts.length ? kept.join(name === "srcset" ? ", " : " ") : null;
    }
    function scrubElement(el) {
      var names = el.namespaceURI === HTML && FETCH[el.tagName];
      if (!names) return 0;
      var changed = 0;
      for (var i = 0; i < names.length; i++) {
        var value = getA.call(el, names[i]);
        if (value === null) continue;
        var hit = refusesValue(names[i], value);
        if (hit) { inert(el, names[i], value, hit, "insert"); changed++; }
      }
      return changed;
    }
    // A node about to enter the document, with its subtree: neutralise what is refused.
    function scrub(node) {
      if (!node || typeof node !== "object") return 0;
      var type = node.nodeType, changed = 0;
      if (type === 1) changed = scrubElement(node);
      if ((type === 1 || type === 11) && node.firstElementChild) {
        var found = node.querySelectorAll(SELECTOR);
        for (var i = 0; i < found.length; i++) changed += scrubElement(found[i]);
      }
      return changed;
    }

    // 1. Attribute setters: el.src = ..., new Image().src = ... (an <img> fetches before insertion).
    function guardProperty(proto, name) {
      var d = proto && Object.getOwnPropertyDescriptor(proto, name);
      if (!d || !d.set) return;
      var set = d.set;
      Object.defineProperty(proto, name, {
        configurable: true, enumerable: d.enumerable, get: d.get,
        set: function (value) {
          var hit = fetches(this, name) && refusesValue(name, value);
          if (hit) inert(this, name, value, hit, "property"); else set.call(this, value);
        }
      });
    }
    var props = [
      ["HTMLScriptElement", "src"], ["HTMLImageElement", "src"], ["HTMLImageElement", "srcset"],
      ["HTMLIFrameElement", "src"], ["HTMLFrameElement", "src"], ["HTMLSourceElement", "src"],
      ["HTMLSourceElement", "srcset"], ["HTMLMediaElement", "src"], ["HTMLVideoElement", "poster"],
      ["HTMLEmbedElement", "src"], ["HTMLObjectElement", "data"], ["HTMLLinkElement", "href"],
      ["HTMLInputElement", "src"], ["HTMLTrackElement", "src"], ["HTMLAnchorElement", "ping"], ["HTMLAreaElement", "ping"]
    ];
    for (var p = 0; p < props.length; p++) if (W[props[p][0]]) guardProperty(W[props[p][0]].prototype, props[p][1]);

    // 2. setAttribute / setAttributeNS with a fetching attribute; srcdoc markup is cleaned.
    EP.setAttribute = function (name, value) {
      var lower = String(name).toLowerCase();
      if (lower === "srcdoc" && this.tagName === "IFRAME") value = clean(value);
      var hit = fetches(this, lower) && refusesValue(lower, value);
      if (hit) return inert(this, lower, value, hit, "setAttribute");
      return setA.call(this, name, value);
    };
    var setANS = EP.setAttributeNS;
    EP.setAttributeNS = function (ns, name, value) {
      var lower = String(name).toLowerCase();
      var hit = !ns && fetches(this, lower) && refusesValue(lower, value);
      if (hit) return inert(this, lower, value, hit, "setAttribute");
      return setANS.call(this, ns, name, value);
    };

    // 3. Insertion: nodes built some other way (cloneNode, DOMParser, templates) are checked on the way in.
    function guardInsert(proto, name, firstOnly) {
      var f = proto && proto[name];
      if (typeof f !== "function") return;
      // appendChild and friends are hot: no arguments object, no apply on their path.
      proto[name] = firstOnly ? function (node, other) {
        if (!node || !node.nodeType) return arguments.length > 1 ? f.call(this, node, other) : f.call(this, node);
        scrub(node);
        var inner = framesIn(node);
        var result = arguments.length > 1 ? f.call(this, node, other) : f.call(this, node);
        if (inner) adoptAll(inner);
        return result;
      } : function () {
        var inner = [];
        for (var i = 0; i < arguments.length; i++) {
          scrub(arguments[i]);
          var found = arguments[i] && arguments[i].nodeType ? framesIn(arguments[i]) : null;
          if (found) inner = inner.concat(found);
        }
        var result = f.apply(this, arguments);
        adoptAll(inner);
        return result;
      };
    }
    // Frames in a node about to be inserted: once in the document, a same-origin frame
    // has a window (about:blank) that page code can write into; the guard goes there first.
    var FRAME_TAGS = { IFRAME: 1, FRAME: 1, OBJECT: 1 };
    function framesIn(node) {
      if (node.nodeType === 1 && FRAME_TAGS[node.tagName]) return [node];
      if ((node.nodeType !== 1 && node.nodeType !== 11) || !node.firstElementChild) return null;
      var found = node.querySelectorAll("iframe,frame,object");
      return found.length ? Array.prototype.slice.call(found) : null;
    }
    function adoptAll(list) {
      for (var i = 0; i < list.length; i++) adopt(frameWindow(list[i]));
    }
    var windowGetters = {}, documentGetters = {};
    function frameWindow(el) {
      var get = windowGetters[el.tagName];
      try { return get ? get.call(el) : null; } catch (e) { return null; }
    }
    function adopt(w) {
      try {
        if (!w || w === W || w.__consentry_guard) return;
        var child = {};
        for (var key in cfg) child[key] = cfg[key];
        child.g = grantedList; child.o = choices; child.q = [];
        var made = install(w, child, api);
        if (made) frames.push(made);
      } catch (e) { /* a document of another origin: it has its own response and guard */ }
    }
    api.adopt = adopt;
    // Reaching into a frame (contentWindow, contentDocument) also brings the guard along.
    var frameTypes = [["IFRAME", "HTMLIFrameElement"], ["FRAME", "HTMLFrameElement"], ["OBJECT", "HTMLObjectElement"]];
    for (var t = 0; t < frameTypes.length; t++) {
      var fproto = W[frameTypes[t][1]] && W[frameTypes[t][1]].prototype;
      var wd = fproto && Object.getOwnPropertyDescriptor(fproto, "contentWindow");
      var dd = fproto && Object.getOwnPropertyDescriptor(fproto, "contentDocument");
      if (!wd || !wd.get) continue;
      windowGetters[frameTypes[t][0]] = wd.get;
      (function (getWindow, getDocument) {
        Object.defineProperty(fproto, "contentWindow", {
          configurable: true, enumerable: wd.enumerable,
          get: function () { var w = getWindow.call(this); adopt(w); return w; }
        });
        if (getDocument) Object.defineProperty(fproto, "contentDocument", {
          configurable: true, enumerable: dd.enumerable,
          get: function () { adopt(getWindow.call(this)); return getDocument.call(this); }
        });
      })(wd.get, dd && dd.get);
    }
    if (typeof W.open === "function") {
      var open0 = W.open;
      W.open = function () { var w = open0.apply(this, arguments); adopt(w); return w; };
    }
    guardInsert(NP, "appendChild", true);
    guardInsert(NP, "insertBefore", true);
    guardInsert(NP, "replaceChild", true);
    var many = ["append", "prepend", "before", "after", "replaceWith", "replaceChildren"];
    for (var m = 0; m < many.length; m++) {
      guardInsert(EP, many[m]);
      guardInsert(W.DocumentFragment && W.DocumentFragment.prototype, many[m]);
      guardInsert(W.Document && W.Document.prototype, many[m]);
    }
    if (W.CharacterData) for (m = 2; m < 5; m++) guardInsert(W.CharacterData.prototype, many[m]);
    var adjacent = EP.insertAdjacentElement;
    EP.insertAdjacentElement = function (where, el) { scrub(el); return adjacent.call(this, where, el); };

    // 4. Markup strings: parsed in an inert <template> (no fetch, no script runs there),
    // neutralised, serialised again. Only markup that can fetch pays for this.
    var MAY_FETCH = /<(script|img|image|iframe|frame|source|video|audio|embed|object|link|input|track)[\s/>]|\sping\s*=/i;
    // Markup can only point elsewhere with "//", a backslash or a character reference.
    var MAY_LEAVE = /\/[\t\n\r]*\/|\\|&/;
    var innerHTML = Object.getOwnPropertyDescriptor(EP, "innerHTML");
    var createElement = D.createElement;
    function clean(markup) {
      if (typeof markup !== "string" || !MAY_FETCH.test(markup) || !MAY_LEAVE.test(markup) && ownBase()) return markup;
      var t = createElement.call(D, "template");
      innerHTML.set.call(t, markup);
      return scrub(t.content) ? innerHTML.get.call(t) : markup;
    }
    function guardMarkupSetter(proto, name) {
      var d = proto && Object.getOwnPropertyDescriptor(proto, name);
      if (!d || !d.set) return;
      var set = d.set;
      Object.defineProperty(proto, name, {
        configurable: true, enumerable: d.enumerable, get: d.get,
        set: function (value) { set.call(this, clean(value)); }
      });
    }
    guardMarkupSetter(EP, "innerHTML");
    guardMarkupSetter(EP, "outerHTML");
    guardMarkupSetter(W.ShadowRoot && W.ShadowRoot.prototype, "innerHTML");
    guardMarkupSetter(W.HTMLIFrameElement && W.HTMLIFrameElement.prototype, "srcdoc");
    function guardMarkupCall(proto, name, index) {
      var f = proto && proto[name];
      if (typeof f !== "function") return;
      proto[name] = function () {
        var args = Array.prototype.slice.call(arguments);
        args[index] = clean(args[index]);
        return f.apply(this, args);
      };
    }
    guardMarkupCall(EP, "insertAdjacentHTML", 1);
    guardMarkupCall(EP, "setHTMLUnsafe", 0);
    guardMarkupCall(W.ShadowRoot && W.ShadowRoot.prototype, "setHTMLUnsafe", 0);
    guardMarkupCall(W.Range && W.Range.prototype, "createContextualFragment", 0);
    function guardWrite(name) {
      var f = W.Document.prototype[name];
      W.Document.prototype[name] = function () {
        return f.call(this, clean(Array.prototype.join.call(arguments, "")));
      };
    }
    guardWrite("write");
    guardWrite("writeln");

    // 5. Network APIs: a refused URL fails the way a blocked request does.
    if (W.fetch) {
      var fetch0 = W.fetch;
      W.fetch = function (input) {
        var url = input && typeof input === "object" && "url" in input ? input.url : input;
        var hit = refuses(url);
        if (hit) {
          note(hit, url, "fetch");
          return Promise.reject(new TypeError("Failed to fetch: refused by consent (" + hit.category + ")"));
        }
        return fetch0.apply(this, arguments);
      };
    }
    if (W.XMLHttpRequest) {
      var XP = W.XMLHttpRequest.prototype, open0 = XP.open, send0 = XP.send, refusedXHR = new WeakSet();
      XP.open = function (method, url) {
        var hit = refuses(url);
        if (hit) { note(hit, url, "xhr"); refusedXHR.add(this); } else refusedXHR.delete(this);
        return open0.apply(this, arguments);
      };
      XP.send = function () {
        if (!refusedXHR.has(this)) return send0.apply(this, arguments);
        var xhr = this;
        setTimeout(function () {
          xhr.dispatchEvent(new W.ProgressEvent("error"));
          xhr.dispatchEvent(new W.ProgressEvent("loadend"));
        }, 0);
      };
    }
    if (W.Navigator && W.Navigator.prototype.sendBeacon) {
      var beacon0 = W.Navigator.prototype.sendBeacon;
      W.Navigator.prototype.sendBeacon = function (url) {
        var hit = refuses(url);
        if (hit) { note(hit, url, "beacon"); return false; }
        return beacon0.apply(this, arguments);
      };
    }
    return api;
  }
  install(window, cfg, null);
})(/*CONSENTRY_CONFIG*/null);
