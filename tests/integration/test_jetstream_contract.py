"""eventsourcing's own recorder contract tests, run against JetStream (one empty log per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
)
from eventsourcing.utils import Environment

from gateways.jetstream import Factory, JetStreamAggregateRecorder, JetStreamApplicationRecorder
from tests.conftest import drop_log, fresh_log_env

pytestmark = pytest.mark.integration

NOT_OFFERED = (
    "not offered by the JetStream module: projections keep their tracking position in "
    "PostgreSQL, in the same transaction as their rows"
)


class FreshLog:
    """Gives each test its own empty stream and closes the factories it opened."""

    env: dict[str, str]
    factories: list[InfrastructureFactory[TrackingRecorder]]

    @pytest.fixture(autouse=True)
    def _fresh_log(self, nats_url: str) -> Iterator[None]:
        self.env = fresh_log_env(nats_url)
        self.factories = []
        yield
        for factory in self.factories:
            factory.close()
        drop_log(self.env)

    def factory(self) -> Factory:
        factory = Factory(self.env)
        self.factories.append(factory)
        return factory


class TestAggregateRecorder(FreshLog, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.factory().aggregate_recorder()


class TestApplicationRecorder(FreshLog, ApplicationRecorderTestCase[JetStreamApplicationRecorder]):
    def create_recorder(self) -> JetStreamApplicationRecorder:
        recorder = self.factory().application_recorder()
        assert isinstance(recorder, JetStreamApplicationRecorder)
        return recorder

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestNonInterleavingNotificationIDs(FreshLog, NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory().application_recorder()


class TestInfrastructureFactory(FreshLog, InfrastructureFactoryTestCase[Factory]):
    def setUp(self) -> None:
        self.env = Environment("TestCase", self.env)  # type: ignore[assignment]
        super().setUp()

    def expected_factory_class(self) -> type[Factory]:
        return Factory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return JetStreamAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return JetStreamApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return TrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return TrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return ProcessRecorder

    @pytest.mark.skip(reason=NOT_OFFERED)
    def test_create_tracking_recorder(self) -> None: ...

    @pytest.mark.skip(reason=NOT_OFFERED)
    def test_create_process_recorder(self) -> None: ...
