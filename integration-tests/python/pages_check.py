"""Checks alertdb-server's alert and object pages in a real browser, and its cutout PNGs
against astropy (called by integration-tests/tests/alert_pages.rs).

usage: pages_check.py MANIFEST.json

The manifest names the server (`root`, with its path prefix), the archived alerts to open
(`alerts`: ids, all of one object), the object page to open (`object_id`, `object_alerts`:
the alerts the index lists for it, `object_status`: 200 with the index), the same archive served with `--no-index` (`no_index_root`: its object page
must answer 501 saying so) and where to save the screenshots (`artefacts`).

For each alert, from the alert's own JSON (`/v1/alerts/{id}?format=json`):
- headless Chromium (Debian's `chromium` + `chromium-driver`, through selenium) opens
  `/v1/alerts/{id}/view`: every cutout image loaded (complete, naturalWidth > 0); the
  light-curve SVG holds one point per band and kind for every row of the alert's source,
  prvDiaSources and prvDiaForcedSources that has a time, a flux and a band; the identity fields
  (ids, IAU name, MJD, UTC by astropy.time, ra/dec, band) and every diaSource and diaObject
  row equal the alert's; no horizontal scrolling at a phone's width (390 CSS pixels);
- the object page: one light-curve point per distinct plottable row of all the alerts (a
  source in several alerts counts once, by diaSourceId / diaForcedSourceId; each alert's
  own source is "current"), a table row per alert, the newest alert's cutouts loaded;
- each cutout PNG, decoded here, matches astropy's rendering of the same FITS data
  (`ZScaleInterval()` + `AsinhStretch()`, × 255, rounded, bottom row last) within 1 grey level
  of 255 for every pixel; the same for `stretch=linear` and `stretch=log` (`LinearStretch`,
  `LogStretch`) on the first alert.

Prints a JSON summary on success; exits 1 with the reasons otherwise. Nothing is skipped: a
missing chromium or chromedriver is a failure that says how to install them.
"""

import json
import math
import os
import shutil
import struct
import sys
import urllib.error
import urllib.request
import zlib

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.visualization import (AsinhStretch, LinearStretch, LogStretch,
                                   ZScaleInterval)

# Tolerance of the PNG comparison: every pixel within this many grey levels (of 255) of
# astropy's. The server computes in float64 from the same float32 data; the difference left
# is rounding at exact halves (numpy rounds half to even) and the last bits of the fit.
TOLERANCE = 1
FAILURES = []


def fail(message):
    FAILURES.append(message)


def get(url, accept=None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def decode_png(data):
    """An 8-bit greyscale, non-interlaced PNG as a 2-D uint8 array (what the server writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert (depth, colour, interlace) == (8, 0, 0), (depth, colour, interlace)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    out = np.zeros((height, width), dtype=np.int32)
    previous = np.zeros(width, dtype=np.int32)
    stride = width + 1
    for y in range(height):
        kind = raw[y * stride]
        line = np.frombuffer(raw[y * stride + 1:(y + 1) * stride], dtype=np.uint8).astype(np.int32)
        row = np.zeros(width, dtype=np.int32)
        for x in range(width):
            a = row[x - 1] if x else 0
            b = previous[x]
            c = previous[x - 1] if x else 0
            if kind == 0:
                predictor = 0
            elif kind == 1:
                predictor = a
            elif kind == 2:
                predictor = b
            elif kind == 3:
                predictor = (a + b) // 2
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:
                raise ValueError(f"PNG filter {kind}")
            row[x] = (line[x] + predictor) & 0xFF
        out[y] = row
        previous = row
    return out


def reference(fits_bytes, stretch):
    """astropy's rendering: zscale interval (clipped), the stretch, × 255, rounded, top row
    first (FITS row 1 at the bottom)."""
    with fits.open(__import__("io").BytesIO(fits_bytes)) as hdus:
        data = next(h.data for h in hdus if h.data is not None and h.data.ndim >= 2)
    data = np.asarray(data, dtype=np.float64).reshape(data.shape[-2:])
    interval = ZScaleInterval()
    scaled = stretch(interval(data, clip=True))
    grey = np.round(np.nan_to_num(scaled, nan=0.0) * 255.0)
    grey[~np.isfinite(data)] = 0
    return np.flipud(grey).astype(np.int32)


def check_pngs(base, alert_id, stretches):
    compared = 0
    for kind in ("difference", "science", "template"):
        status, _, fits_bytes = get(f"{base}/v1/alerts/{alert_id}/cutouts/{kind}")
        if status != 200:
            fail(f"alert {alert_id}: FITS cutout {kind}: {status}")
            continue
        for name, stretch in stretches:
            status, headers, png = get(f"{base}/v1/alerts/{alert_id}/cutouts/{kind}.png?stretch={name}")
            if status != 200 or headers.get("Content-Type") != "image/png":
                fail(f"alert {alert_id}: {kind}.png?stretch={name}: {status} {headers.get('Content-Type')}")
                continue
            ours = decode_png(png)
            theirs = reference(fits_bytes, stretch)
            if ours.shape != theirs.shape:
                fail(f"alert {alert_id}: {kind}.png shape {ours.shape} != astropy's {theirs.shape}")
                continue
            worst = int(np.abs(ours - theirs).max())
            if worst > TOLERANCE:
                fail(f"alert {alert_id}: {kind}.png ({name}) differs from astropy by up to {worst} grey levels")
            compared += ours.size
    return compared


def cell_equals(text, value):
    """Whether a table cell's text is the alert's value."""
    if value is None:
        return text == "null"
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, int):
        return text == str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return text.lower() == "nan"
        # float32 fields: the page writes the shortest float32 text, JSON the float64 of it.
        return math.isclose(float(text), value, rel_tol=2e-7, abs_tol=0.0)
    if isinstance(value, str):
        return text == value
    return True  # bytes, arrays and records are summarised, not compared


def expected_points(alerts):
    """(band, kind) -> count of plottable rows of `alerts`, a row in several of them once
    (the server's merge: the alerts' sources first, then detections, then forced points)."""
    counts = {}
    seen = set()

    def add(row, kind):
        if row is None:
            return
        key = (kind == "forced", row.get("diaForcedSourceId" if kind == "forced" else "diaSourceId"))
        if key[1] is not None:
            if key in seen:
                return
            seen.add(key)
        mjd = row.get("midpointMjdTai", row.get("midPointTai"))
        flux = row.get("psfFlux", row.get("psFlux"))
        band = row.get("band", row.get("filterName"))
        if mjd is None or flux is None or band is None:
            return
        if not (math.isfinite(mjd) and math.isfinite(flux)):
            return
        counts[(band, kind)] = counts.get((band, kind), 0) + 1

    for alert in alerts:
        add(alert.get("diaSource"), "current")
    for alert in alerts:
        for row in alert.get("prvDiaSources") or []:
            add(row, "detection")
    for alert in alerts:
        for row in alert.get("prvDiaForcedSources") or []:
            add(row, "forced")
    return counts


def count_points(driver):
    from selenium.webdriver.common.by import By
    found = {}
    for point in driver.find_elements(By.CSS_SELECTOR, "svg#lightcurve g.pt"):
        key = (point.get_attribute("data-band"), point.get_attribute("data-kind"))
        found[key] = found.get(key, 0) + 1
    return found


def check_images(driver, what):
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.id, i.complete, i.naturalWidth, i.alt]);")
    if len(images) != 3:
        fail(f"{what}: {len(images)} images on the page, not 3: {images}")
    for image_id, complete, width, alt in images:
        if not complete or width <= 0:
            fail(f"{what}: image {image_id} did not load (complete={complete}, naturalWidth={width})")
        if not alt:
            fail(f"{what}: image {image_id} has no alt text")
    return len(images)


def alert_json(base, alert_id):
    status, _, body = get(f"{base}/v1/alerts/{alert_id}?format=json")
    if status != 200:
        raise SystemExit(f"alert {alert_id}: JSON {status}")
    return json.loads(body)


def check_page(driver, base, alert_id, alert, artefacts, first):
    from selenium.webdriver.common.by import By

    source = alert["diaSource"]
    url = f"{base}/v1/alerts/{alert_id}/view"
    driver.set_window_size(1200, 1800)
    driver.get(url)
    images = check_images(driver, f"alert {alert_id}")

    # The light curve: one point per plottable row, by band and kind.
    found = count_points(driver)
    wanted = expected_points([alert])
    if found != wanted:
        fail(f"alert {alert_id}: light-curve points {sorted(found.items())} != rows {sorted(wanted.items())}")

    # Identity.
    def key(name):
        elements = driver.find_elements(By.CSS_SELECTOR, f"[data-key='{name}']")
        return elements[0].get_attribute("textContent").strip() if elements else None

    alert_id_field = alert.get("alertId", alert.get("diaSourceId"))
    mjd = source.get("midpointMjdTai", source.get("midPointTai"))
    utc = Time(mjd, format="mjd", scale="tai").utc.isot[:23] + "Z"
    identity = {
        "alertId": str(alert_id_field),
        "diaSourceId": str(source["diaSourceId"]),
        "diaObjectId": str((alert.get("diaObject") or source).get("diaObjectId")),
        "iau": f"LSST-AP-DS-{source['diaSourceId']}",
        "mjd": mjd,
        "utc": utc,
        "ra": source["ra"],
        "dec": source.get("dec", source.get("decl")),
        "band": source.get("band", source.get("filterName")),
    }
    for name, value in identity.items():
        text = key(name)
        if value is None or value == "None":
            value = "—"  # what the page shows for a null
        if text is None:
            fail(f"alert {alert_id}: no {name} on the page")
        elif isinstance(value, float):
            if float(text) != value:
                fail(f"alert {alert_id}: {name} {text} != {value}")
        elif text != value:
            fail(f"alert {alert_id}: {name} {text!r} != {value!r}")

    # Every row of the diaSource and diaObject tables.
    rows = 0
    for table, record in (("diaSource", source), ("diaObject", alert.get("diaObject"))):
        if record is None:
            continue
        cells = driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0])).map("
            "r => [r.dataset.field, r.cells[1].textContent]);",
            f"table#{table} tr[data-field]")
        shown = [c[0] for c in cells]
        # The page lists fields in schema order; the JSON's keys come sorted.
        if sorted(shown) != sorted(record):
            fail(f"alert {alert_id}: {table} table fields differ from the alert's: only on the page "
                 f"{sorted(set(shown) - set(record))}, only in the alert {sorted(set(record) - set(shown))}")
        for field, text in cells:
            if not cell_equals(text, record.get(field)):
                fail(f"alert {alert_id}: {table}.{field} shows {text!r}, the alert has {record.get(field)!r}")
            rows += 1

    # Readable on a phone: nothing wider than the screen but the scrolling tables.
    driver.set_window_size(390, 844)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
    if overflow > 0:
        fail(f"alert {alert_id}: the page scrolls sideways by {overflow} px at 390 px wide")
    if first:
        driver.save_screenshot(os.path.join(artefacts, "alert-page-phone.png"))
    return {"points": sum(found.values()), "rows": rows, "images": images}


def main():
    manifest = json.load(open(sys.argv[1]))
    base = manifest["root"]
    artefacts = manifest["artefacts"]
    os.makedirs(artefacts, exist_ok=True)
    for tool in ("chromium", "chromedriver"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: run scripts/install/apt.sh (Debian packages chromium "
                  "and chromium-driver)", file=sys.stderr)
            sys.exit(1)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(60)
    summary = {"alerts": 0, "points": 0, "rows": 0, "images": 0, "png_pixels": 0}
    try:
        alerts = {alert_id: alert_json(base, alert_id) for alert_id in manifest["alerts"]}
        most_points = (-1, None)
        for n, alert_id in enumerate(manifest["alerts"]):
            result = check_page(driver, base, alert_id, alerts[alert_id], artefacts, first=(n == 0))
            most_points = max(most_points, (result.get("points", 0), alert_id))
            for k, v in result.items():
                summary[k] += v
            summary["alerts"] += 1
            stretches = [("asinh", AsinhStretch())]
            if n == 0:
                stretches += [("linear", LinearStretch()), ("log", LogStretch())]
            summary["png_pixels"] += check_pngs(base, alert_id, stretches)

        # The screenshot of an alert page: the alert with the fullest light curve.
        driver.set_window_size(1200, 1800)
        driver.get(f"{base}/v1/alerts/{most_points[1]}/view")
        driver.save_screenshot(os.path.join(artefacts, "alert-page.png"))

        # The object page: the server's answer, then what the browser shows.
        object_url = f"{base}/v1/objects/{manifest['object_id']}/view"
        status, headers, body = get(object_url)
        if status != manifest["object_status"]:
            fail(f"object page: status {status}, expected {manifest['object_status']}: {body[:300]!r}")
        if "text/html" not in headers.get("Content-Type", ""):
            fail(f"object page: content type {headers.get('Content-Type')}")
        driver.set_window_size(1200, 1800)
        driver.get(object_url)
        summary["images"] += check_images(driver, "object page")
        found = count_points(driver)
        listed_by_index = manifest["object_alerts"]
        wanted = expected_points([alerts[a] for a in listed_by_index])
        if found != wanted:
            fail(f"object page: light-curve points {sorted(found.items())} != rows {sorted(wanted.items())}")
        listed = driver.execute_script(
            "return Array.from(document.querySelectorAll('table#alerts tr[data-alert]')).map(r => r.dataset.alert);")
        if sorted(int(a) for a in listed) != sorted(listed_by_index):
            fail(f"object page lists alerts {listed}, the index {sorted(listed_by_index)}")
        driver.save_screenshot(os.path.join(artefacts, "object-page.png"))
        summary["object_status"] = status
        summary["object_alerts"] = len(listed)
        summary["object_points"] = sum(found.values())

        # The same archive with --no-index: a page saying so, status 501.
        no_index_url = f"{manifest['no_index_root']}/v1/objects/{manifest['object_id']}/view"
        status, headers, _ = get(no_index_url)
        if status != 501 or "text/html" not in headers.get("Content-Type", ""):
            fail(f"object page with --no-index: {status} {headers.get('Content-Type')}")
        driver.set_window_size(1200, 700)
        driver.get(no_index_url)
        text = driver.execute_script("return document.body.innerText;")
        if "not enabled" not in text:
            fail(f"object page with --no-index does not say the index is not enabled: {text[:300]!r}")
        driver.save_screenshot(os.path.join(artefacts, "object-page-no-index.png"))
        summary["no_index_status"] = status
    finally:
        driver.quit()
    if FAILURES:
        print("\n".join(FAILURES), file=sys.stderr)
        sys.exit(1)
    summary["tolerance_grey_levels"] = TOLERANCE
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
