from tools.notebook_outputs import collapse_carriage_returns, tidy_outputs


def test_carriage_returns_keep_the_last_state_of_each_line():
    assert collapse_carriage_returns("\rbar 0%\rbar 50%\rbar 100%\ndone\n") == "bar 100%\ndone\n"
    assert collapse_carriage_returns("a\rb\r") == "b"
    assert collapse_carriage_returns("plain\ntext") == "plain\ntext"


def test_consecutive_streams_are_merged_then_collapsed():
    outputs = [
        {"output_type": "stream", "name": "stderr", "text": "\rtrain: 1/3"},
        {"output_type": "stream", "name": "stderr", "text": ["\rtrain: 2/3", "\rtrain: 3/3"]},
        {"output_type": "stream", "name": "stdout", "text": "trained\n"},
        {"output_type": "display_data", "data": {"text/plain": "<Figure>"}, "metadata": {}},
    ]
    tidy = tidy_outputs(outputs)
    assert [o.get("text") for o in tidy[:2]] == ["train: 3/3", "trained\n"]
    assert tidy[2]["output_type"] == "display_data" and len(tidy) == 3


def test_blank_streams_are_dropped():
    outputs = [
        {"output_type": "stream", "name": "stderr", "text": "\rbar 1/2\rbar 2/2\n"},
        {"output_type": "stream", "name": "stdout", "text": "trained\n"},
        {"output_type": "stream", "name": "stderr", "text": "\n"},
    ]
    assert [(o["name"], o["text"]) for o in tidy_outputs(outputs)] == [("stderr", "bar 2/2\n"), ("stdout", "trained\n")]
