"""/api/v1/notification-preferences/me/: each person reads and sets only their own."""


def test_read_and_set_own_preferences(client, world):
    url = "/api/v1/notification-preferences/me/"
    assert client.get(url).status_code in (401, 403)
    client.force_login(world.coach_user)
    assert client.get(url).json() == {"email_enabled": True, "sms_enabled": False, "phone": "",
                                      "quiet_start": None, "quiet_end": None}
    saved = client.put(url, {"email_enabled": True, "sms_enabled": True,
                             "phone": "317-555-0123", "quiet_start": "21:00",
                             "quiet_end": "08:00"}, content_type="application/json")
    assert saved.status_code == 200
    assert saved.json()["phone"] == "+13175550123" and saved.json()["quiet_start"] == "21:00"
    half = client.put(url, {"email_enabled": True, "sms_enabled": False, "phone": "",
                            "quiet_start": "21:00", "quiet_end": None},
                      content_type="application/json")
    assert half.status_code == 400 and "both the start and the end" in str(half.json())
    client.force_login(world.patient_user)  # someone else sees their own defaults
    assert client.get(url).json()["sms_enabled"] is False
