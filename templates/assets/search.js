/* fibery-kb search: a small box in the header over the Pagefind index (pagefind/ at the
   site root, written at build time). Press "/" anywhere to search, arrows to move through
   the results, Escape to close. Loads Pagefind only when the box is first used, so pages
   cost nothing extra until then; without JavaScript the box stays hidden. */
(function () {
  "use strict";
  var form = document.querySelector("form.search[data-bundle]");
  if (!form) return;
  var input = form.querySelector("input");
  var panel = form.querySelector(".search-results");
  var bundle = new URL(form.getAttribute("data-bundle"), document.baseURI).href;
  var MAX_RESULTS = 10;
  var pagefind = null;
  var latest = 0;

  var OPTIONS = { excerptLength: 24 };

  /* The index is in shards (generator/search.py): pagefind/ is the first, shards.json lists
     the others, merged into it before the first search. */
  function shards(pf) {
    return fetch(bundle + "shards.json").then(function (response) {
      return response.ok ? response.json() : [];
    }).then(function (folders) {
      return Promise.all(folders.map(function (folder) { return pf.mergeIndex(bundle + folder, OPTIONS); }));
    });
  }

  function load() {
    if (!pagefind) {
      pagefind = import(bundle + "pagefind.js").then(function (pf) {
        return Promise.resolve(pf.options(OPTIONS)).then(function () { return shards(pf); }).then(function () { return pf; });
      });
      pagefind.catch(function () { pagefind = null; });
    }
    return pagefind;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  /* Pagefind's excerpt is HTML with <mark> around matches; keep only its text and marks,
     so nothing from the indexed pages can become markup here. */
  function excerpt(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var out = element("p", "search-excerpt");
    template.content.childNodes.forEach(function (node) {
      if (node.nodeType === 1 && node.nodeName === "MARK") out.appendChild(element("mark", "", node.textContent));
      else out.appendChild(document.createTextNode(node.textContent));
    });
    return out;
  }

  function show(nodes) {
    panel.replaceChildren.apply(panel, nodes);
    panel.hidden = false;
  }

  function close() {
    panel.hidden = true;
    panel.replaceChildren();
  }

  function render(query, total, results) {
    var status = element("p", "search-status", total === 0
      ? "No results for “" + query + "”"
      : total + (total === 1 ? " result" : " results") + " for “" + query + "”" +
        (total > results.length ? " (first " + results.length + ")" : ""));
    status.setAttribute("role", "status");
    var list = element("ol", "search-list");
    results.forEach(function (result) {
      var item = element("li");
      var link = element("a", "search-title", (result.meta && result.meta.title) || result.url);
      link.href = result.url;
      item.appendChild(link);
      if (result.meta && result.meta.database) item.appendChild(element("span", "search-db", result.meta.database));
      item.appendChild(excerpt(result.excerpt || ""));
      list.appendChild(item);
    });
    show(total ? [status, list] : [status]);
  }

  function unavailable() {
    /* Browsers refuse to load the index of a page opened from disk (file://): the index is
       there, the site only needs a web server. */
    var text = location.protocol === "file:"
      ? "Search needs the site opened through a web server: run “gen serve” (or any static web server) in its folder and open the address it prints."
      : "Search is not available: this copy of the site has no search index.";
    var message = element("p", "search-status", text);
    message.setAttribute("role", "status");
    show([message]);
  }

  function search() {
    var query = input.value.trim();
    var mine = ++latest;
    if (!query) { close(); return; }
    load().then(function (pf) {
      return pf.debouncedSearch(query, {}, 120).then(function (found) {
        if (found === null || mine !== latest) return null;
        var top = found.results.slice(0, MAX_RESULTS);
        return Promise.all(top.map(function (r) { return r.data(); })).then(function (data) {
          if (mine === latest) render(query, found.results.length, data);
        });
      });
    }, function () {
      if (mine === latest) unavailable();
    });
  }

  function links() {
    return Array.prototype.slice.call(panel.querySelectorAll("a.search-title"));
  }

  function move(step) {
    var all = links();
    if (!all.length) return;
    var index = all.indexOf(document.activeElement);
    var next = index + step;
    if (next < 0) input.focus();
    else all[Math.min(next, all.length - 1)].focus();
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  form.hidden = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var first = links()[0];
    if (first) first.click();
  });
  input.addEventListener("focus", function () { load().catch(function () {}); });
  input.addEventListener("input", search);
  form.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { event.preventDefault(); move(1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(-1); }
    else if (event.key === "Escape") { input.value = ""; close(); input.focus(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event.target)) {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });
  /* Tabbing (or clicking) past the results closes them: they never stay open over the page. */
  form.addEventListener("focusout", function (event) {
    if (!event.relatedTarget || !form.contains(event.relatedTarget)) {
      setTimeout(function () { if (!form.contains(document.activeElement)) close(); }, 0);
    }
  });
  document.addEventListener("click", function (event) {
    if (!form.contains(event.target)) close();
  });
})();
