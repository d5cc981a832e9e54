/* The JavaScript the controller runs in pages (Runtime.evaluate), kept apart from the C.
 * Each is a function expression; the controller appends the call with JSON-encoded
 * arguments, so nothing from a request is ever spliced into the code unquoted (except
 * act:evaluate's own `fn`, which is code by definition).
 *
 * Elements found by a snapshot carry a `data-clawgate-ref` attribute (e1, e2, ...); a new
 * snapshot renumbers them. click/type find their element by that ref or a CSS selector. */
#ifndef CG_BROWSER_PAGE_SCRIPTS_H
#define CG_BROWSER_PAGE_SCRIPTS_H

/* (maxChars) -> {url, title, snapshot, refs: {ref: {role, name}}, truncated, stats}: the page's
 * visible text and interactive elements in document order, one line each. */
#define CG_JS_SNAPSHOT                                                                             \
    "((maxChars) => {\n"                                                                           \
    "  const INTERACTIVE = 'a[href],button,input,select,textarea,summary,[role=button],"           \
    "[role=link],[role=checkbox],[role=radio],[role=tab],[role=menuitem],[role=textbox],"          \
    "[onclick],[contenteditable=\"\"],[contenteditable=\"true\"]';\n"                              \
    "  for (const el of document.querySelectorAll('[data-clawgate-ref]'))\n"                       \
    "    el.removeAttribute('data-clawgate-ref');\n"                                               \
    "  const lines = [], refs = {};\n"                                                             \
    "  let size = 0, n = 0, truncated = false;\n"                                                  \
    "  const clean = (s) => (s || '').replace(/\\s+/g, ' ').trim();\n"                             \
    "  const hidden = (el) => { const st = getComputedStyle(el);\n"                                \
    "    return st.display === 'none' || st.visibility === 'hidden'; };\n"                         \
    "  const boxed = (el) => { const r = el.getBoundingClientRect();\n"                            \
    "    return r.width > 0 || r.height > 0; };\n"                                                 \
    "  const roleOf = (el) => {\n"                                                                 \
    "    const r = el.getAttribute('role'); if (r) return r;\n"                                    \
    "    const t = el.tagName.toLowerCase();\n"                                                    \
    "    if (t === 'a') return 'link';\n"                                                          \
    "    if (t === 'button' || t === 'summary') return 'button';\n"                                \
    "    if (t === 'select') return 'combobox';\n"                                                 \
    "    if (t === 'textarea') return 'textbox';\n"                                                \
    "    if (t === 'input') { const ty = (el.type || 'text').toLowerCase();\n"                     \
    "      if (ty === 'checkbox' || ty === 'radio') return ty;\n"                                  \
    "      if (ty === 'submit' || ty === 'button' || ty === 'reset') return 'button';\n"           \
    "      return 'textbox'; }\n"                                                                  \
    "    return 'generic'; };\n"                                                                   \
    "  const nameOf = (el) => {\n"                                                                 \
    "    let s = el.getAttribute('aria-label') || '';\n"                                           \
    "    if (!s && el.labels && el.labels.length) s = el.labels[0].innerText;\n"                   \
    "    const field = el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || "                    \
    "el.tagName === 'SELECT';\n"                                                                   \
    "    if (!s && !field) s = el.innerText;\n"                                                    \
    "    if (!s && field && /^(submit|button|reset)$/i.test(el.type || '')) s = el.value;\n"       \
    "    if (!s) s = el.getAttribute('placeholder') || el.getAttribute('title') || "               \
    "el.getAttribute('name') || '';\n"                                                             \
    "    return clean(s).slice(0, 120); };\n"                                                      \
    "  const push = (line) => {\n"                                                                 \
    "    if (truncated) return;\n"                                                                 \
    "    if (size + line.length + 1 > maxChars) { truncated = true; return; }\n"                   \
    "    lines.push(line); size += line.length + 1; };\n"                                          \
    "  const walk = (node) => {\n"                                                                 \
    "    for (let child = node.firstChild; child && !truncated; child = child.nextSibling) {\n"    \
    "      if (child.nodeType === 3) { const t = clean(child.textContent);\n"                      \
    "        if (t) push('- text: ' + JSON.stringify(t)); continue; }\n"                           \
    "      if (child.nodeType !== 1) continue;\n"                                                  \
    "      if (/^(SCRIPT|STYLE|NOSCRIPT|TEMPLATE|HEAD)$/.test(child.tagName)) continue;\n"         \
    "      if (hidden(child)) continue;\n"                                                         \
    "      if (child.matches(INTERACTIVE)) {\n"                                                    \
    "        if (!boxed(child)) continue;\n"                                                       \
    "        const ref = 'e' + (++n), role = roleOf(child), name = nameOf(child);\n"               \
    "        child.setAttribute('data-clawgate-ref', ref);\n"                                      \
    "        refs[ref] = { role, name };\n"                                                        \
    "        let line = '- ' + role + (name ? ' ' + JSON.stringify(name) : '') + "                 \
    "' [ref=' + ref + ']';\n"                                                                      \
    "        if ((role === 'textbox' || role === 'combobox') && child.value)\n"                    \
    "          line += ' value=' + JSON.stringify(String(child.value).slice(0, 120));\n"           \
    "        if ((role === 'checkbox' || role === 'radio') && child.checked) line += ' "           \
    "[checked]';\n"                                                                                \
    "        push(line);\n"                                                                        \
    "        continue;\n"                                                                          \
    "      }\n"                                                                                    \
    "      walk(child);\n"                                                                         \
    "    }\n"                                                                                      \
    "  };\n"                                                                                       \
    "  if (document.body) walk(document.body);\n"                                                  \
    "  return { url: location.href, title: document.title, snapshot: lines.join('\\n'), refs, "    \
    "truncated, stats: { lines: lines.length, chars: size, refs: n, interactive: n } };\n"         \
    "})"

/* The element of (ref, selector), or {error}. Shared head of the act scripts: defines
 * `el` or returns. */
#define CG_JS_FIND_ELEMENT                                                                         \
    "  let el;\n"                                                                                  \
    "  try {\n"                                                                                    \
    "    el = ref ? document.querySelector('[data-clawgate-ref=\"' + CSS.escape(ref) + '\"]')\n"   \
    "             : document.querySelector(sel);\n"                                                \
    "  } catch (e) { return { error: 'invalid selector: ' + sel }; }\n"                            \
    "  if (!el) return { error: ref ? 'unknown ref: ' + ref + ' (take a new snapshot)'\n"          \
    "                               : 'no element matches selector: ' + sel };\n"

/* (ref, selector) -> {x, y} (the element's centre in the viewport, scrolled into view)
 * or {error}. */
#define CG_JS_CLICK_POINT                                                                          \
    "((ref, sel) => {\n" CG_JS_FIND_ELEMENT                                                        \
    "  el.scrollIntoView({ block: 'center', inline: 'center' });\n"                                \
    "  const r = el.getBoundingClientRect();\n"                                                    \
    "  if (r.width === 0 && r.height === 0) return { error: 'element is not visible' };\n"         \
    "  return { x: r.left + r.width / 2, y: r.top + r.height / 2 };\n"                             \
    "})"

/* (ref, selector) -> {} with the element focused and emptied, ready for Input.insertText,
 * or {error}. */
#define CG_JS_FOCUS_FOR_TYPING                                                                     \
    "((ref, sel) => {\n" CG_JS_FIND_ELEMENT                                                        \
    "  el.scrollIntoView({ block: 'center', inline: 'center' });\n"                                \
    "  el.focus();\n"                                                                              \
    "  if (document.activeElement !== el) return { error: 'element cannot take text input' };\n"   \
    "  if ('value' in el) el.value = ''; else if (el.isContentEditable) el.textContent = '';\n"    \
    "  return {};\n"                                                                               \
    "})"

/* The page's location and title once its load event has fired. */
#define CG_JS_PAGE_INFO "({ url: location.href, title: document.title })"

#endif
