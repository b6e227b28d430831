"""Mentor office hours and investor updates (issue 17, items 4 and 5): a mentor's weekly
slots and their bookings (no double booking: unique (mentor, live_start), NULL once
cancelled), a founder's updates to the holders of live share grants, their recipients and
read receipts. New tables only: a database with data upgrades as it is.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from incubator.models import OfficeBookingStatus
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [('ecosystem', '0006_sweepers'), ('incubator', '0004_application_pipeline')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InvestorUpdate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('startup', fields.ForeignKeyField('ecosystem.Organisation', source_field='startup_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('ecosystem.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('title', fields.CharField(max_length=200)),
                ('metrics', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('narrative', fields.TextField(default='', unique=False)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incubator_investor_update', 'app': 'incubator', 'indexes': [Index(fields=['startup_id', 'sent_at'])], 'pk_attr': 'id', 'table_description': "A founder's periodic update to the holders of the startup's live share grants: chosen"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvestorUpdateRead',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('update', fields.ForeignKeyField('incubator.InvestorUpdate', source_field='update_id', db_constraint=True, to_field='id', related_name='reads', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('ecosystem.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('grantee', fields.ForeignKeyField('ecosystem.Organisation', source_field='grantee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incubator_investor_update_read', 'app': 'incubator', 'unique_together': (('update', 'user'),), 'pk_attr': 'id', 'table_description': 'A read receipt: the first time one person read one update (each read is also a line'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvestorUpdateRecipient',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('update', fields.ForeignKeyField('incubator.InvestorUpdate', source_field='update_id', db_constraint=True, to_field='id', related_name='recipients', on_delete=OnDelete.CASCADE)),
                ('grantee', fields.ForeignKeyField('ecosystem.Organisation', source_field='grantee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('grant', fields.ForeignKeyField('incubator.ShareGrant', source_field='grant_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incubator_investor_update_recipient', 'app': 'incubator', 'unique_together': (('update', 'grantee'),), 'pk_attr': 'id', 'table_description': 'An organisation an update was sent to, through its live share grant at the time.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OfficeHours',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('programme', fields.ForeignKeyField('incubator.Programme', source_field='programme_id', db_constraint=True, to_field='id', related_name='office_hours', on_delete=OnDelete.CASCADE)),
                ('mentor', fields.ForeignKeyField('ecosystem.User', source_field='mentor_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('weekday', fields.SmallIntField()),
                ('start_minute', fields.SmallIntField()),
                ('slot_minutes', fields.SmallIntField(default=30)),
                ('slots', fields.SmallIntField(default=2)),
                ('first_day', fields.DateField()),
                ('last_day', fields.DateField()),
                ('timezone', fields.CharField(default='Asia/Ho_Chi_Minh', max_length=64)),
                ('place', fields.CharField(default='', max_length=200)),
                ('skipped', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('withdrawn_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incubator_office_hours', 'app': 'incubator', 'indexes': [Index(fields=['mentor_id', 'weekday'])], 'pk_attr': 'id', 'table_description': "A mentor's weekly office hours in a programme: every `weekday` from `first_day` to"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OfficeHourBooking',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('office_hours', fields.ForeignKeyField('incubator.OfficeHours', source_field='office_hours_id', db_constraint=True, to_field='id', related_name='bookings', on_delete=OnDelete.CASCADE)),
                ('mentor', fields.ForeignKeyField('ecosystem.User', source_field='mentor_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('live_start', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('enrolment', fields.ForeignKeyField('incubator.Enrolment', source_field='enrolment_id', db_constraint=True, to_field='id', related_name='office_hour_bookings', on_delete=OnDelete.CASCADE)),
                ('startup', fields.ForeignKeyField('ecosystem.Organisation', source_field='startup_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('booked_by', fields.ForeignKeyField('ecosystem.User', source_field='booked_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('topic', fields.CharField(default='', max_length=500)),
                ('status', fields.CharEnumField(default=OfficeBookingStatus.BOOKED, description='BOOKED: booked\nCANCELLED: cancelled', enum_type=OfficeBookingStatus, max_length=12)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancelled_by', fields.ForeignKeyField('ecosystem.User', source_field='cancelled_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('cancel_reason', fields.CharField(default='', max_length=500)),
                ('session', fields.ForeignKeyField('incubator.MentoringSession', source_field='session_id', null=True, db_constraint=True, to_field='id', related_name='office_hour_bookings', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incubator_office_booking', 'app': 'incubator', 'unique_together': (('mentor', 'live_start'),), 'indexes': [Index(fields=['office_hours_id', 'starts_at']), Index(fields=['startup_id', 'starts_at'])], 'pk_attr': 'id', 'table_description': "One slot of a mentor's office hours booked by a founder for their startup."},
            bases=['Model'],
        ),
    ]
