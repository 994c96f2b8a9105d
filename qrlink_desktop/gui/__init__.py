"""qrlink_desktop.gui"""
