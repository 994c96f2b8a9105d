"""qrlink_desktop.rtc"""
