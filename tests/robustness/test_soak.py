"""A small soak: a few add-ons shipped at once while Bugzilla and Balrog misbehave."""

from local_stack.soak import SoakSettings, format_report, run_soak


def test_a_small_soak_with_faults_files_emails_and_ships_each_add_on_once(stack):
    settings = SoakSettings(
        executions=6,
        concurrency=6,
        fault_rate=0.15,
        seed=5,
        http_timeout=None,  # the stack's own, so its warm workers stay warm
        first_firefox=190,
        version_groups=2,
        name="minisoak",
        execution_timeout=150,
        deadline=240,
    )

    report = run_soak(stack, settings)

    assert report.exact, format_report(report)
    assert sum(sum(injected.values()) for injected in report.faults.values()) > 0
    assert not stack.bugzilla.faults.take("POST", "/rest/bug"), "faults outlived the soak"
