from confpy.pipeline.redact import redact


def test_values_are_replaced_by_their_key() -> None:
    items = [("/db/password", "s3cr3t-pw"), ("/db/port", "80")]
    message = "check_cmd failed: line 3: password s3cr3t-pw rejected on port 80"
    assert (
        redact(message, items)
        == "check_cmd failed: line 3: password <value of /db/password> rejected on port 80"
    )


def test_the_escaped_form_a_filter_quotes_is_replaced_too() -> None:
    items = [("/x", "it's\nsecret")]
    message = 'ip: "it\'s\\nsecret" is not an IP address'
    assert redact(message, items) == 'ip: "<value of /x>" is not an IP address'


def test_longest_value_first_so_a_prefix_does_not_split_it() -> None:
    items = [("/a", "token"), ("/b", "token-extended")]
    assert redact("got token-extended", items) == "got <value of /b>"


def test_messages_without_values_are_unchanged() -> None:
    assert redact("key does not exist: /x", [("/y", "abcdef")]) == "key does not exist: /x"
